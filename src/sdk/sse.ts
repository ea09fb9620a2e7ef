/**
 * An incremental parser for server-sent events (the WHATWG "event stream" format): feed it text
 * as it arrives, in chunks of any size, and it calls back once per complete event.
 *
 * Owns: line splitting (LF, CRLF or CR, even split across chunks), `data` joining, `id`,
 * `event`, comments (the server's keep-alives and its opening line).
 */

export interface SseMessage {
  /** The `id:` field, when the event had one. */
  id: string | undefined;
  /** The `event:` field; 'message' when absent. */
  event: string;
  data: string;
}

export interface SseParser {
  push(chunk: string): void;
}

export function createSseParser(onMessage: (message: SseMessage) => void, onComment: (text: string) => void = () => undefined): SseParser {
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | undefined;

  const dispatch = (): void => {
    if (data.length > 0 || event !== '') onMessage({ id, event: event === '' ? 'message' : event, data: data.join('\n') });
    data = [];
    event = '';
    id = undefined;
  };

  const line = (text: string): void => {
    if (text === '') return dispatch();
    if (text.startsWith(':')) return onComment(text.slice(1).trimStart());
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
    // `retry` and unknown fields are ignored: reconnect timing is the client's own policy.
  };

  return {
    push(chunk) {
      buffer += chunk;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const ch = buffer[i];
        if (ch !== '\n' && ch !== '\r') continue;
        // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
        if (ch === '\r' && i === buffer.length - 1) break;
        line(buffer.slice(start, i));
        if (ch === '\r' && buffer[i + 1] === '\n') i += 1;
        start = i + 1;
      }
      buffer = buffer.slice(start);
    },
  };
}
