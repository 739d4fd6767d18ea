/** An ATX heading (`## Title`) of a markdown text: where its line starts and ends. */
export interface MarkdownHeading {
  level: number;
  title: string;
  start: number;
  end: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/u;
/**
 * A heading title is carried by every chunk under it (`heading_path`) and embedded with each:
 * a title longer than this is cut, so a one-line "heading" of megabytes cannot multiply itself.
 */
export const MAX_HEADING_TITLE_CHARS = 300;

/** ATX headings outside fenced code blocks, in order. Setext (underlined) headings are not read. */
export function findMarkdownHeadings(text: string): MarkdownHeading[] {
  const headings: MarkdownHeading[] = [];
  let fence: string | undefined;
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const line = text.slice(lineStart, lineEnd);
    const fenceMatch = FENCE.exec(line);
    if (fenceMatch) {
      const marker = fenceMatch[1];
      if (fence === undefined) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
    } else if (fence === undefined && line.includes('#')) {
      const heading = parseAtxHeading(line);
      if (heading !== undefined) headings.push({ ...heading, start: lineStart, end: lineEnd });
    }
    lineStart = lineEnd + 1;
  }
  return headings;
}

/**
 * Reads `line` as `/^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/u` would, with the title
 * trimmed and not empty, but in one pass: that regex backtracks quadratically on a long line
 * with white space after its first words.
 */
function parseAtxHeading(line: string): { level: number; title: string } | undefined {
  let at = 0;
  while (at < 3 && line.charCodeAt(at) === SPACE) at++;
  let level = 0;
  while (line.charCodeAt(at + level) === HASH) level++;
  if (level === 0 || level > 6 || !isBlank(line.charCodeAt(at + level))) return undefined;
  at += level;
  while (isBlank(line.charCodeAt(at))) at++;
  // `.` matches neither \r nor \u2028/\u2029, and nothing else in the pattern does either
  if (/[\r\u2028\u2029]/u.test(line.slice(at))) return undefined;
  // the title ends before trailing blanks, and before a closing `#` run with blanks before it
  let end = line.length;
  while (end > at && isBlank(line.charCodeAt(end - 1))) end--;
  let hashes = end;
  while (hashes > at && line.charCodeAt(hashes - 1) === HASH) hashes--;
  if (hashes < end && hashes > at && isBlank(line.charCodeAt(hashes - 1))) {
    end = hashes;
    while (end > at && isBlank(line.charCodeAt(end - 1))) end--;
  }
  const title = line.slice(at, end).trim();
  return title === ''
    ? undefined
    : { level, title: title.length > MAX_HEADING_TITLE_CHARS ? title.slice(0, MAX_HEADING_TITLE_CHARS) : title };
}

const SPACE = 0x20;
const HASH = 0x23;

function isBlank(code: number): boolean {
  return code === SPACE || code === 0x09;
}

/**
 * For each position, the titles of the headings it is under. Built once per text; `at(offset)`
 * includes a heading that starts exactly at `offset`.
 */
export class HeadingTrail {
  private readonly starts: number[];
  private readonly paths: string[][];

  constructor(headings: readonly MarkdownHeading[]) {
    const stack: MarkdownHeading[] = [];
    this.starts = [];
    this.paths = [];
    for (const heading of headings) {
      while (stack.length > 0 && stack[stack.length - 1].level >= heading.level) stack.pop();
      stack.push(heading);
      this.starts.push(heading.start);
      this.paths.push(stack.map((h) => h.title));
    }
  }

  at(offset: number): string[] {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found === -1 ? [] : [...this.paths[found]];
  }
}
