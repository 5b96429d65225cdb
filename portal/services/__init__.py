"""Domain logic: the only layer that decides anything. Views, hooks, CLI and tasks call it."""
