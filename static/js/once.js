// A page that shows a secret once (a new API token, a one-time sign-in link) is the answer to a POST.
// Turn its history entry into a plain GET of the same address, so a reload neither resubmits the form
// (making another token) nor shows the secret again.
if (document.querySelector("[data-shown-once]")) {
  history.replaceState(null, "", location.pathname);
}
