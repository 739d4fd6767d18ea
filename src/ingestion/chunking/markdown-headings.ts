/** An ATX heading (`## Title`) of a markdown text: where its line starts and ends. */
export interface MarkdownHeading {
  level: number;
  title: string;
  start: number;
  end: number;
}

const ATX_HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/u;
const FENCE = /^ {0,3}(`{3,}|~{3,})/u;

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
      const heading = ATX_HEADING.exec(line);
      if (heading && heading[2].trim() !== '') {
        headings.push({ level: heading[1].length, title: heading[2].trim(), start: lineStart, end: lineEnd });
      }
    }
    lineStart = lineEnd + 1;
  }
  return headings;
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
