// Drive the official AG-UI client (@ag-ui/client's HttpAgent) against a server, for
// tests/js_clients.py.
//
//   node ag_ui_client.mjs <url> <json RunAgentInput>
//
// The input's threadId, messages and state seed the agent; its runId, tools, context and
// forwardedProps go to runAgent, so the POST is the one HttpAgent builds itself. runAgent is
// the normal path: the SSE parser, enforceEvents (schema), transformChunks and verifyEvents
// (event order) all run, and a violation rejects the run. Every event that reaches the
// subscribers is collected. The client's console warnings (it strips unknown fields with a
// warning instead of failing) are captured too, so a test can insist on none.
// Prints one JSON object; exits 0 whenever it ran.

import { HttpAgent } from "@ag-ui/client";

const [url, rawInput] = process.argv.slice(2);
if (!url || rawInput === undefined) {
  process.stderr.write("usage: node ag_ui_client.mjs <url> <json RunAgentInput>\n");
  process.exit(2);
}
const input = JSON.parse(rawInput);

const result = {
  status: null,
  headers: {},
  request: null,
  events: [],
  messages: [],
  state: null,
  result: null,
  error: null,
  run_error: null,
  warnings: [],
};

const text = (args) => args.map((arg) => (arg instanceof Error ? arg.message : String(arg)));
console.warn = (...args) => result.warnings.push(text(args).join(" "));
// runAgent logs "Agent execution failed:" before rethrowing; the rethrown error is reported.
console.error = (...args) => result.warnings.push(text(args).join(" "));

const agent = new HttpAgent({
  url,
  threadId: input.threadId,
  initialMessages: input.messages ?? [],
  initialState: input.state ?? {},
  fetch: async (target, init) => {
    result.request = JSON.parse(init.body);
    const response = await fetch(target, init);
    result.status = response.status;
    result.headers = Object.fromEntries(response.headers);
    return response;
  },
});

try {
  const outcome = await agent.runAgent(
    {
      runId: input.runId,
      tools: input.tools ?? [],
      context: input.context ?? [],
      forwardedProps: input.forwardedProps ?? {},
    },
    {
      onEvent({ event }) {
        result.events.push(event);
      },
      onRunErrorEvent({ event }) {
        result.run_error = event.message ?? null;
      },
    },
  );
  result.result = outcome?.result ?? null;
} catch (error) {
  result.error = String(error?.message ?? error);
}
result.messages = agent.messages;
result.state = agent.state;
process.stdout.write(`${JSON.stringify(result)}\n`);
