/**
 * The agent's template language: text with `{{ ... }}` actions, a small, documented subset in
 * the spirit of Vault Agent's (consul-template's) Go templates.
 *
 * Why not Vault Agent's own syntax: those templates are Go's text/template, and no well-kept
 * library implements it (or consul-template's functions) for Node. Rather than half-implement a
 * programming language, the agent has exactly the actions listed below the header. Arguments
 * are double-quoted strings (`\"` and `\\` escape). There are no variables, pipes, conditions
 * or loops, so nothing in a template is evaluated beyond a lookup.
 *
 * Owns: parsing (once, at start) and rendering (at every change).
 * Must never: quote template text or a secret in an error: errors give the line and column and
 * name only paths and fields.
 */

// Outside an action everything is text, `}}` included (as in Go's text/template), so JSON and
// YAML with nested objects render as written: {"db": {"password": "{{ secret ... }}"}}.
//
// The actions:
//   {{ secret "secret/data/app" "password" }}         one field of the secret at an API path
//   {{ secret "database/creds/readonly" "username" }}  (KV v2 reads need data/ in the path)
//   {{ env "HOSTNAME" }}                              the agent's environment ("" when unset)
//   {{ "{{" }}                                        a quoted string is output as is
//   {{/* a comment */}}                               outputs nothing
//   {{- ... -}}                                       trims the whitespace before / after

/** One `secret` lookup. */
export interface SecretRef {
  path: string;
  field: string;
}

export type TemplateNode = { kind: 'text'; text: string } | { kind: 'secret'; ref: SecretRef } | { kind: 'env'; name: string };

export interface ParsedTemplate {
  readonly nodes: readonly TemplateNode[];
  /** Every distinct secret path the template reads, in first-use order. */
  readonly paths: readonly string[];
}

/** A template that cannot be parsed; the message names a line and column, never the text there. */
export class TemplateSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateSyntaxError';
  }
}

/** A render that cannot complete (a field is missing); the last good file stays. */
export class TemplateRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateRenderError';
  }
}

const FUNCTIONS = ['secret', 'env'] as const;

/** An API path as a template names it: no leading slash or `v1/`, no trailing slash, no `..`. */
export function normalizeSecretPath(raw: string): string | undefined {
  const path = raw.trim().replace(/^\/+/, '').replace(/^v1\//, '').replace(/\/+$/, '');
  if (path === '' || /\s/.test(path) || path.split('/').some((s) => s === '..' || s === '.' || s === '')) return undefined;
  return path;
}

interface Cursor {
  source: string;
  pos: number;
}

function lineCol(source: string, pos: number): string {
  const before = source.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${col}`;
}

type Token = { kind: 'string'; value: string; at: number } | { kind: 'word'; value: string; at: number };

/** Splits an action's body into words and quoted strings. */
function tokenize(c: Cursor, end: number): Token[] {
  const tokens: Token[] = [];
  let i = c.pos;
  while (i < end) {
    const ch = c.source[i] as string;
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    if (ch === '"') {
      const at = i;
      let value = '';
      i += 1;
      for (;;) {
        if (i >= end) throw new TemplateSyntaxError(`${lineCol(c.source, at)}: a quoted string is not closed`);
        const q = c.source[i] as string;
        if (q === '\\') {
          const next = c.source[i + 1];
          if (next !== '"' && next !== '\\') throw new TemplateSyntaxError(`${lineCol(c.source, i)}: only \\" and \\\\ may be escaped`);
          value += next;
          i += 2;
          continue;
        }
        if (q === '"') {
          i += 1;
          break;
        }
        if (q === '\n') throw new TemplateSyntaxError(`${lineCol(c.source, at)}: a quoted string must end on its line`);
        value += q;
        i += 1;
      }
      tokens.push({ kind: 'string', value, at });
      continue;
    }
    const at = i;
    while (i < end && !/\s/.test(c.source[i] as string) && c.source[i] !== '"') i += 1;
    tokens.push({ kind: 'word', value: c.source.slice(at, i), at });
  }
  return tokens;
}

function actionNode(c: Cursor, tokens: Token[], open: number): TemplateNode | undefined {
  const [head, ...args] = tokens;
  if (head === undefined) throw new TemplateSyntaxError(`${lineCol(c.source, open)}: empty action`);
  if (head.kind === 'string') {
    if (args.length > 0) throw new TemplateSyntaxError(`${lineCol(c.source, open)}: a quoted string stands alone in its action`);
    return { kind: 'text', text: head.value };
  }
  const strings = (count: number): string[] => {
    if (args.length !== count || args.some((a) => a.kind !== 'string')) {
      throw new TemplateSyntaxError(`${lineCol(c.source, head.at)}: ${head.value} takes ${count} quoted argument${count === 1 ? '' : 's'}`);
    }
    return args.map((a) => a.value);
  };
  if (head.value === 'secret') {
    const [rawPath, field] = strings(2) as [string, string];
    const path = normalizeSecretPath(rawPath);
    if (path === undefined) throw new TemplateSyntaxError(`${lineCol(c.source, head.at)}: secret needs an API path such as "secret/data/app"`);
    if (field === '') throw new TemplateSyntaxError(`${lineCol(c.source, head.at)}: secret needs a field name`);
    return { kind: 'secret', ref: { path, field } };
  }
  if (head.value === 'env') {
    const [name] = strings(1) as [string];
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TemplateSyntaxError(`${lineCol(c.source, head.at)}: env needs a variable name`);
    return { kind: 'env', name };
  }
  // The word is not echoed: a mistyped action could be anything, including a pasted secret.
  throw new TemplateSyntaxError(`${lineCol(c.source, head.at)}: unknown function; the functions are ${FUNCTIONS.join(' and ')}`);
}

/** Parses a template (see the file header for the syntax). */
export function parseTemplate(source: string): ParsedTemplate {
  const c: Cursor = { source, pos: 0 };
  const nodes: TemplateNode[] = [];
  let trimNext = false;
  const pushText = (text: string): void => {
    if (text !== '') nodes.push({ kind: 'text', text });
  };
  while (c.pos <= source.length) {
    const open = source.indexOf('{{', c.pos);
    let text = source.slice(c.pos, open === -1 ? source.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open === -1) {
      pushText(text);
      break;
    }
    let bodyStart = open + 2;
    if (source[bodyStart] === '-') {
      text = text.replace(/\s+$/, '');
      bodyStart += 1;
    }
    pushText(text);
    const commentAt = /^\s*\/\*/.exec(source.slice(bodyStart, bodyStart + 64));
    if (commentAt) {
      const closeComment = source.indexOf('*/', bodyStart + commentAt[0].length);
      if (closeComment === -1) throw new TemplateSyntaxError(`${lineCol(source, open)}: a comment is not closed with "*/}}"`);
      let after = closeComment + 2;
      while (/[ \t]/.test(source[after] ?? '')) after += 1;
      if (source.startsWith('-}}', after)) {
        trimNext = true;
        after += 1;
      }
      if (!source.startsWith('}}', after)) throw new TemplateSyntaxError(`${lineCol(source, open)}: a comment must end with "*/}}"`);
      c.pos = after + 2;
      continue;
    }
    const close = findClose(source, bodyStart);
    if (close === -1) throw new TemplateSyntaxError(`${lineCol(source, open)}: "{{" without a closing "}}"`);
    let bodyEnd = close;
    if (source[close - 1] === '-' && close - 1 >= bodyStart) {
      trimNext = true;
      bodyEnd = close - 1;
    }
    c.pos = bodyStart;
    const node = actionNode(c, tokenize(c, bodyEnd), open);
    if (node) nodes.push(node);
    c.pos = close + 2;
  }
  const paths: string[] = [];
  for (const node of nodes) if (node.kind === 'secret' && !paths.includes(node.ref.path)) paths.push(node.ref.path);
  return { nodes: mergeText(nodes), paths };
}

/** The `}}` that ends an action, skipping any inside quoted strings. */
function findClose(source: string, from: number): number {
  let inString = false;
  for (let i = from; i < source.length - 1; i += 1) {
    const ch = source[i];
    if (inString) {
      if (ch === '\\') i += 1;
      else if (ch === '"') inString = false;
      else if (ch === '\n') return -1;
    } else if (ch === '"') inString = true;
    else if (ch === '}' && source[i + 1] === '}') return i;
  }
  return -1;
}

function mergeText(nodes: TemplateNode[]): TemplateNode[] {
  const out: TemplateNode[] = [];
  for (const node of nodes) {
    const last = out[out.length - 1];
    if (node.kind === 'text' && last?.kind === 'text') out[out.length - 1] = { kind: 'text', text: last.text + node.text };
    else out.push(node);
  }
  return out;
}

export interface RenderInputs {
  /** The fields of the secret at `path` (already read). */
  secret(path: string): Record<string, unknown>;
  env(name: string): string | undefined;
}

/** Renders a parsed template; a missing field is a TemplateRenderError naming path and field. */
export function renderTemplate(template: ParsedTemplate, inputs: RenderInputs): string {
  let out = '';
  for (const node of template.nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'env') out += inputs.env(node.name) ?? '';
    else out += fieldOf(inputs.secret(node.ref.path), node.ref);
  }
  return out;
}

function fieldOf(secret: Record<string, unknown>, ref: SecretRef): string {
  if (!Object.hasOwn(secret, ref.field)) throw new TemplateRenderError(`field "${ref.field}" is not in the secret at ${ref.path}`);
  const value = secret[ref.field];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}
