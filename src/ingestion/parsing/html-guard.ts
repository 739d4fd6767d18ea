import { Parser } from 'htmlparser2';
import { DocumentParseError } from './parse-errors';
import type { ParseLimits } from '../../config/parse-limits';

type HtmlLimits = Pick<ParseLimits, 'htmlMaxDepth' | 'htmlMaxElements'>;

/** Thrown from the tokenizer's callbacks to stop it at the first element past a limit. */
class LimitReached extends Error {
  constructor(readonly problem: DocumentParseError) {
    super(problem.message);
  }
}

/**
 * Tokenizes the page once (a streaming tokenizer: no tree, no recursion) and stops at the first
 * element past the nesting depth or element count. html-to-text builds a tree and walks it
 * recursively, so a page nested 200k deep would overflow its stack; past the limits it never sees it.
 */
export function checkHtmlShape(html: string, limits: HtmlLimits, what = 'html'): void {
  let depth = 0;
  let elements = 0;
  const parser = new Parser(
    {
      onopentag() {
        depth += 1;
        elements += 1;
        if (depth > limits.htmlMaxDepth) {
          throw new LimitReached(
            new DocumentParseError('too_large', `the ${what} nests elements deeper than HTML_MAX_DEPTH (${limits.htmlMaxDepth})`),
          );
        }
        if (elements > limits.htmlMaxElements) {
          throw new LimitReached(
            new DocumentParseError('too_large', `the ${what} has more elements than HTML_MAX_ELEMENTS (${limits.htmlMaxElements})`),
          );
        }
      },
      onclosetag() {
        depth -= 1;
      },
    },
    { decodeEntities: false, lowerCaseTags: false, lowerCaseAttributeNames: false },
  );
  try {
    parser.end(html);
  } catch (error) {
    if (error instanceof LimitReached) throw error.problem;
    throw error;
  }
}
