// Drive the Vercel AI SDK's own chat client against a server, for tests/js_clients.py.
//
//   node ai_sdk_client.mjs <url> <json-body>
//
// The body is what useChat would POST ({id, messages, trigger, messageId?, ...extra}); it is
// sent by DefaultChatTransport.sendMessages, so the request is the SDK's, not ours. The
// response goes through the transport's chunk stream (which parses every chunk with the
// installed `ai`'s uiMessageChunkSchema) into readUIMessageStream, giving the UIMessage a
// page would render. A second copy of the raw body is split into SSE events here and every
// `data:` chunk is checked against the chunk schema of both `ai` (latest, lenient) and
// `ai-strict` (an older 6.x whose schemas reject unknown keys), so a test sees which
// client releases would refuse the stream. Prints one JSON object; exits 0 whenever it ran.

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import {
  DefaultChatTransport,
  readUIMessageStream,
  uiMessageChunkSchema as latestChunkSchema,
} from "ai";
import { uiMessageChunkSchema as strictChunkSchema } from "ai-strict";

const require = createRequire(import.meta.url);

/** The packages' own validation helper, from the provider-utils each `ai` release depends on. */
async function providerUtilsOf(aiPackage) {
  const aiDir = dirname(require.resolve(`${aiPackage}/package.json`));
  const local = createRequire(join(aiDir, "package.json"));
  const manifestPath = local.resolve("@ai-sdk/provider-utils/package.json");
  const manifest = local(manifestPath);
  const entry = manifest.exports["."].import;
  const path = typeof entry === "string" ? entry : entry.default;
  return import(pathToFileURL(join(dirname(manifestPath), path)).href);
}

const VALIDATORS = [
  ["latest", latestChunkSchema, (await providerUtilsOf("ai")).safeValidateTypes],
  ["strict", strictChunkSchema, (await providerUtilsOf("ai-strict")).safeValidateTypes],
];

/** One line per zod issue; for a union, only the branch whose `type` literal matched. */
function describeIssues(issues) {
  return issues.map((issue) => {
    if (issue.code === "invalid_union" && Array.isArray(issue.errors)) {
      const typeMismatch = (branch) =>
        branch.some((inner) => inner.path?.length === 1 && inner.path[0] === "type");
      const matching = issue.errors.filter((branch) => !typeMismatch(branch));
      if (matching.length === 0) return "invalid_union: no chunk type of this schema matches";
      return matching.map((branch) => describeIssues(branch).join("; ")).join(" | ");
    }
    const where = issue.path?.length ? ` at ${issue.path.join(".")}` : "";
    const keys = issue.keys ? ` ${JSON.stringify(issue.keys)}` : "";
    return `${issue.code}${where}${keys}: ${issue.message}`;
  });
}

function describeIssue(error) {
  const cause = error?.cause ?? error;
  const text = Array.isArray(cause?.issues)
    ? describeIssues(cause.issues).join("; ")
    : String(cause?.message ?? cause);
  return clip(text);
}

/** The SDK's own messages embed whole zod reports; keep the output readable. */
function clip(text, limit = 2000) {
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

/** Split a body into SSE events the way the spec says (our own reading, not the SDK's). */
async function readRawEvents(stream, result) {
  const decoder = new TextDecoder();
  let buffer = "";
  let data = null;
  const dispatch = async () => {
    if (data === null) return;
    const text = data;
    data = null;
    if (text === "[DONE]") {
      result.done = true;
      return;
    }
    if (result.done) result.after_done.push(text);
    let chunk;
    try {
      chunk = JSON.parse(text);
    } catch (error) {
      result.invalid.push({ version: "json", chunk: text, issue: String(error.message) });
      return;
    }
    result.chunks.push(chunk);
    for (const [version, schema, safeValidateTypes] of VALIDATORS) {
      const checked = await safeValidateTypes({ value: chunk, schema: schema() });
      if (!checked.success) {
        result.invalid.push({ version, chunk, issue: describeIssue(checked.error) });
      }
    }
  };
  const line = async (text) => {
    if (text === "") return dispatch();
    if (text.startsWith(":")) {
      result.comments.push(text.slice(1).trim());
      return;
    }
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data = data === null ? value : `${data}\n${value}`;
  };
  for await (const bytes of stream) {
    buffer += decoder.decode(bytes, { stream: true });
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const text of lines) await line(text);
  }
  buffer += decoder.decode();
  if (buffer) await line(buffer);
  // An event not closed by a blank line is dropped, as EventSource does.
  result.unterminated = data !== null;
}

async function main() {
  const [url, rawBody] = process.argv.slice(2);
  if (!url || rawBody === undefined) {
    process.stderr.write("usage: node ai_sdk_client.mjs <url> <json-body>\n");
    process.exit(2);
  }
  const { id, messages, trigger = "submit-message", messageId, ...extra } = JSON.parse(rawBody);

  const result = {
    status: null,
    headers: {},
    request: null,
    body: null,
    chunks: [],
    invalid: [],
    comments: [],
    after_done: [],
    unterminated: false,
    message: null,
    error: null,
    errors: [],
    done: false,
  };
  const fail = (error) => {
    const text = clip(String(error?.message ?? error));
    result.errors.push(text);
    result.error ??= text;
  };

  let rawReading = Promise.resolve();
  const recordingFetch = async (input, init) => {
    result.request = JSON.parse(init.body);
    const response = await fetch(input, init);
    result.status = response.status;
    result.headers = Object.fromEntries(response.headers);
    if (!response.body) return response;
    const [ours, theirs] = response.body.tee();
    if (response.ok) {
      rawReading = readRawEvents(ours, result).catch(fail);
    } else {
      rawReading = new Response(ours).text().then((text) => {
        try {
          result.body = JSON.parse(text);
        } catch {
          result.body = text;
        }
      });
    }
    return new Response(theirs, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };

  const transport = new DefaultChatTransport({ api: url, fetch: recordingFetch });
  try {
    const chunkStream = await transport.sendMessages({
      chatId: id,
      messages,
      trigger,
      messageId,
      body: extra,
      abortSignal: undefined,
    });
    for await (const snapshot of readUIMessageStream({ stream: chunkStream, onError: fail })) {
      result.message = snapshot;
    }
  } catch (error) {
    fail(error);
  }
  await rawReading;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
