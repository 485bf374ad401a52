/**
 * Reads Apache httpd configuration text into a tree of directives, the way httpd itself reads it
 * (server/util.c `ap_cfg_getline`, `ap_getword_conf`, server/config.c `ap_build_config_sub`,
 * server/core.c `ap_resolve_env`). It knows syntax only; what a directive means is the importer's job.
 *
 * The rules it follows:
 * - A line ending in `\` (nothing after it but the line break) continues on the next line; the
 *   backslash and the line break are removed, nothing is inserted.
 * - Leading and trailing white space is dropped; an empty line, or one whose first character is `#`,
 *   is a comment. `#` later on a line is not a comment: httpd passes it on as an argument.
 * - Directive names are case-insensitive. Arguments are split at white space; an argument that starts
 *   with `"` or `'` runs to the matching quote, and inside it `\"` (or `\'`) and `\\` are escapes.
 * - `Define NAME VALUE` and `UnDefine NAME` take effect from their line on, and `${NAME}` is replaced
 *   on every later line. Undefined names stay as written (httpd would also look at its environment,
 *   which a file alone does not have).
 * - `<Name args>` opens a section and `</Name>` closes it.
 */

/** A section that cannot be matched up; thrown because what belongs where is then unknowable. */
export class ApacheConfigError extends Error {
  /** Stable error code for programmatic checks. */
  readonly code = 'ERR_APACHE_CONFIG';
  /** Always `ApacheConfigError`. */
  override readonly name = 'ApacheConfigError';
  constructor(
    /** The 1-based line the problem was found on. */
    readonly line: number,
    problem: string,
  ) {
    super(`line ${line}: ${problem}`);
  }
}

/** One directive, or one section with the directives inside it. */
export interface ApacheDirective {
  /** The name as written, without `<` for a section: `BalancerMember`, `Proxy`. */
  name: string;
  /** The arguments, split and unquoted as httpd does it (for a section: up to the closing `>`). */
  args: string[];
  /** The 1-based line the directive starts on (httpd's own messages name a continued directive's last line). */
  line: number;
  /** The directives inside, for a section; undefined for a plain directive. */
  children?: ApacheDirective[];
}

/** White space as C's `isspace` in the C locale, which httpd uses. */
const SPACE = /[ \t\n\v\f\r]/;
const EDGE_SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

/**
 * Parses configuration text into a directive tree. Throws {@link ApacheConfigError} when sections
 * do not nest (unclosed, closed without being opened, closed under another name) or a section's
 * opening line has no `>`; anything else is left to the caller to judge.
 */
export function parseApacheConfig(text: string): ApacheDirective[] {
  const root: ApacheDirective[] = [];
  const open: ApacheDirective[] = [];
  const defines = new Map<string, string>();
  for (const { text: raw, line } of logicalLines(text)) {
    const content = raw.replace(EDGE_SPACE, '');
    if (content === '' || content.startsWith('#')) continue;
    const resolved = resolveDefines(content, defines);
    const { word: first, rest } = nextWord(resolved);
    const siblings = open.length > 0 ? open[open.length - 1]!.children! : root;

    if (first.startsWith('</')) {
      const name = first.slice(2).replace(/>$/, '');
      const top = open.pop();
      if (top === undefined) throw new ApacheConfigError(line, `</${name}> without a matching <${name}> section`);
      if (top.name.toLowerCase() !== name.toLowerCase()) {
        throw new ApacheConfigError(line, `expected </${top.name}> (opened on line ${top.line}) but saw </${name}>`);
      }
      continue;
    }
    if (first.startsWith('<')) {
      const name = first.slice(1).replace(/>$/, '');
      const argText = first.endsWith('>') ? '' : rest;
      const close = argText.lastIndexOf('>');
      if (!first.endsWith('>') && close < 0) throw new ApacheConfigError(line, `<${name} section is missing its closing '>'`);
      const section: ApacheDirective = { name, args: splitWords(argText.slice(0, Math.max(close, 0))), line, children: [] };
      siblings.push(section);
      open.push(section);
      continue;
    }
    const args = splitWords(rest);
    // httpd runs Define and UnDefine while reading, so they affect the lines after them only.
    if (first.toLowerCase() === 'define' && args[0] !== undefined && !args[0].includes(':')) {
      if (args[1] !== undefined) defines.set(args[0], args[1]);
      continue;
    }
    if (first.toLowerCase() === 'undefine' && args[0] !== undefined) {
      defines.delete(args[0]);
      continue;
    }
    siblings.push({ name: first, args, line });
  }
  const unclosed = open[open.length - 1];
  if (unclosed !== undefined) throw new ApacheConfigError(unclosed.line, `<${unclosed.name}> section is never closed with </${unclosed.name}>`);
  return root;
}

/** Splits an argument string as httpd's `ap_getword_conf` does, word after word. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let rest = text;
  for (;;) {
    const { word, rest: after, found } = nextWord(rest);
    if (!found) return words;
    words.push(word);
    rest = after;
  }
}

/** One word from the start of `text`, and the text after it. */
function nextWord(text: string): { word: string; rest: string; found: boolean } {
  let i = 0;
  while (i < text.length && SPACE.test(text[i]!)) i++;
  if (i >= text.length) return { word: '', rest: '', found: false };
  const quote = text[i] === '"' || text[i] === "'" ? text[i]! : undefined;
  let word = '';
  let j = quote === undefined ? i : i + 1;
  while (j < text.length) {
    const c = text[j]!;
    if (quote === undefined ? SPACE.test(c) : c === quote) break;
    const next = text[j + 1];
    if (c === '\\' && (next === '\\' || (quote !== undefined && next === quote))) {
      word += next;
      j += 2;
    } else {
      word += c;
      j += 1;
    }
  }
  if (quote !== undefined && j < text.length) j++; // past the closing quote
  return { word, rest: text.slice(j), found: true };
}

/** Physical lines joined at continuations, each with the number of the line it starts on. */
function* logicalLines(text: string): Generator<{ text: string; line: number }> {
  const physical = text.split('\n');
  let pending: string | undefined;
  let start = 0;
  for (let i = 0; i < physical.length; i++) {
    if (i === physical.length - 1 && physical[i] === '' && pending === undefined) break; // text ends with a line break
    const body = physical[i]!.endsWith('\r') ? physical[i]!.slice(0, -1) : physical[i]!;
    if (pending === undefined) start = i + 1;
    const joined = (pending ?? '') + body;
    if (body.endsWith('\\') && i < physical.length - 1) {
      pending = joined.slice(0, -1);
      continue;
    }
    pending = undefined;
    yield { text: joined, line: start };
  }
}

/** Replaces `${NAME}` with Define'd values; unknown names stay as written. */
function resolveDefines(text: string, defines: ReadonlyMap<string, string>): string {
  if (!text.includes('${')) return text;
  return text.replace(/\$\{([^}]*)\}/g, (whole, name: string) => defines.get(name) ?? whole);
}
