// The rais chat page: a RAIS v1 client in plain JavaScript, no build step.
// It talks to the endpoint the way the useAIChat hooks do: POST the whole
// conversation as JSON, read the event stream with fetch, split on "\n\n",
// parse "data: " lines, and abort with an AbortController.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const input = $("input");
  const sendButton = $("send");
  const stopButton = $("stop");

  // The endpoint: ?endpoint=URL (any origin), else the one this server filled in.
  const meta = (name) => {
    const value = document.querySelector(`meta[name="${name}"]`)?.content || "";
    return value.startsWith("{{") ? "" : value; // an unserved template has no value
  };
  const params = new URLSearchParams(location.search);
  const endpoint = new URL(params.get("endpoint") || meta("rais-endpoint") || "/api/chat", location.href).href;
  const target = new URL(endpoint);
  $("endpoint").textContent =
    "POST " + (target.origin === location.origin ? target.pathname + target.search : endpoint);

  const provider = meta("rais-provider");
  if (provider && !params.has("endpoint")) {
    const label = $("provider");
    label.textContent = provider === "offline" ? "offline demo provider" : provider;
    label.classList.toggle("demo", provider === "offline");
    if (provider === "offline") {
      label.title = "No API key was set: answers come from rais's offline demo provider.";
    }
    label.hidden = false;
  }

  /** The conversation sent with every request: [{role, content}, ...]. */
  let history = [];
  let controller = null;

  function setState(state, outcome) {
    document.body.dataset.state = state;
    if (outcome) document.body.dataset.outcome = outcome;
    sendButton.disabled = state === "streaming";
    stopButton.disabled = state !== "streaming";
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function addMessage(role, text) {
    $("empty")?.remove();
    const row = document.createElement("div");
    row.className = `message ${role}`;
    row.dataset.role = role;
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    row.append(bubble);
    log.append(row);
    scrollDown();
    return row;
  }

  function showError(message) {
    const row = addMessage("error", message);
    row.setAttribute("role", "alert");
    return row;
  }

  /** A readable line for a 4xx/5xx answer: rais sends {"error": {"message": ...}}. */
  async function describeHttpError(response) {
    let detail = "";
    try {
      const body = await response.json();
      const error = body?.error ?? body?.detail ?? body?.message;
      detail = typeof error === "string" ? error : error?.message || JSON.stringify(error ?? body);
    } catch {
      detail = response.statusText;
    }
    return `HTTP ${response.status}: ${detail || "request failed"}`;
  }

  /** Yield the parsed `data:` events of a RAIS stream as they arrive. */
  async function* readEvents(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        const blocks = buffer.split("\n\n");
        buffer = blocks.pop();
        for (const block of blocks) {
          for (const line of block.split("\n")) {
            if (!line.startsWith("data: ")) continue; // ids, ": ping" comments
            try {
              yield JSON.parse(line.slice(6));
            } catch {
              // not JSON: ignore it like the useAIChat clients do
            }
          }
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  async function send(text) {
    const turns = history; // "New chat" mid-stream starts a new list; this answer stays out of it
    turns.push({ role: "user", content: text });
    const userRow = addMessage("user", text);
    const row = addMessage("assistant", "");
    row.classList.add("streaming");
    const bubble = row.querySelector(".bubble");
    controller = new AbortController();
    setState("streaming");

    let answer = "";
    let outcome = "";
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ messages: turns }),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) {
        outcome = "http-error";
        showError(await describeHttpError(response));
        return;
      }
      for await (const event of readEvents(response.body)) {
        if (event.type === "text") {
          answer += event.text;
          bubble.textContent = answer;
          scrollDown();
        } else if (event.type === "done") {
          outcome = "done";
          break;
        } else if (event.type === "error") {
          outcome = "error";
          showError(event.error || "The server reported an error.");
          break;
        } // other types are reserved or unknown: ignore them
      }
      if (!outcome) {
        outcome = "cut";
        showError("The connection closed before the answer finished.");
      }
    } catch (error) {
      if (error.name === "AbortError") {
        outcome = "stopped";
        row.classList.add("stopped");
      } else {
        outcome = "network-error";
        showError(`Could not reach ${endpoint} (${error.message}).`);
      }
    } finally {
      controller = null;
      row.classList.remove("streaming");
      if (answer) {
        turns.push({ role: "assistant", content: answer });
      } else {
        // Nothing came back: drop the turn so the next request is not stuck behind it.
        row.remove();
        turns.pop();
        userRow.classList.add("unanswered");
        userRow.title = "Not answered; it is not part of the conversation sent next.";
        if (!input.value) input.value = text;
      }
      setState("idle", outcome);
      input.focus();
    }
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || controller) return;
    input.value = "";
    send(text);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });

  stopButton.addEventListener("click", () => controller?.abort());

  $("clear").addEventListener("click", () => {
    controller?.abort();
    history = [];
    log.replaceChildren();
    input.focus();
  });

  setState("idle");
  input.focus();
})();
