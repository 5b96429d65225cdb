"""Per-execution resource limits (ARCHITECTURE.md §3 defaults)."""

from dataclasses import dataclass, replace

MB = 1024 * 1024
JSON_MAX_DEPTH = 256  # output and host requests nested deeper are refused: Python's json recurses per level


@dataclass(frozen=True)
class ResourceLimits:
    timeout_ms: int = 30_000          # wall clock, host calls included
    memory_bytes: int = 64 * MB       # the whole context, prelude included
    stack_bytes: int = 1 * MB         # well below a thread's real stack (8 MB on glibc)
    host_calls: int = 100
    host_batch_bytes: int = 1 * MB    # the host requests queued in one round, checked before parsing
    output_bytes: int = 1 * MB
    log_entries: int = 1000
    log_bytes: int = 256 * 1024
    source_bytes: int = 100 * 1024
    max_jobs: int = 1_000_000         # promise jobs per run: a `.then` flood must end

    def with_overrides(self, **overrides: int) -> "ResourceLimits":
        """Per-script overrides, ignoring unset (None) values."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})
