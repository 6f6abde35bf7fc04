// Reprocess from the message page: POST /api/v1/messages/{id}/reprocess with the page's CSRF token, then follow
// the message until no delivery waits any more, and show each destination's new status.
(function () {
  const button = document.getElementById("reprocess");
  if (!button) return;
  const outcome = document.getElementById("reprocess-outcome");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const id = button.dataset.message;
  const waiting = new Set(["QUEUED", "ERROR"]);

  function show(message) {
    const status = document.getElementById("message-status");
    status.textContent = message.status;
    status.className = "status " + message.status;
    for (const d of message.destinations) {
      const row = document.querySelector(`#deliveries tr[data-destination="${CSS.escape(d.name)}"]`);
      if (!row) continue;
      row.cells[1].textContent = d.status;
      row.cells[1].className = "delivery " + d.status;
      row.cells[2].textContent = d.attempts;
      row.cells[3].textContent = d.last_error || "";
      row.cells[4].textContent = (d.sent_at || "").slice(0, 19);
    }
  }

  async function follow() {
    for (let i = 0; i < 120; i++) {
      const answer = await fetch(`/api/v1/messages/${id}`, { credentials: "same-origin" });
      if (answer.ok) {
        const message = await answer.json();
        show(message);
        if (message.status !== "RECEIVED" && !message.destinations.some((d) => waiting.has(d.status))) {
          const dead = message.destinations.some((d) => d.status === "DEAD");
          outcome.textContent = dead ? button.dataset.failed : button.dataset.done;
          outcome.className = dead ? "DEAD" : "SENT";
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    outcome.textContent = button.dataset.waiting;
    outcome.className = "";
    const answer = await fetch(`/api/v1/messages/${id}/reprocess`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ reason: "console" }),
    });
    if (!answer.ok) {
      outcome.textContent = button.dataset.failed + ": " + (await answer.json()).error;
      button.disabled = false;
      return;
    }
    await follow();
    button.disabled = false;
  });
})();
