import { compile, FormatCallback, HtmlToTextOptions } from 'html-to-text';

/** `<h1>`…`<h6>` as markdown ATX headings, so the markdown chunker and heading paths see them. */
const markdownHeading: FormatCallback = (elem, walk, builder, formatOptions) => {
  const level = Number((formatOptions as { level?: number }).level ?? 1);
  builder.openBlock({ leadingLineBreaks: 2 });
  builder.addInline(`${'#'.repeat(level)} `);
  walk(elem.children, builder);
  builder.closeBlock({ trailingLineBreaks: 2 });
};

/** html-to-text cuts input past 16 M characters by default; the size guard is parseDocument's. */
const NO_LIMITS: HtmlToTextOptions['limits'] = { maxInputLength: Number.MAX_SAFE_INTEGER };

const bodyText = compile({
  wordwrap: false,
  limits: NO_LIMITS,
  formatters: { markdownHeading },
  selectors: [
    ...[1, 2, 3, 4, 5, 6].map((level) => ({ selector: `h${level}`, format: 'markdownHeading', options: { level } })),
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'img', format: 'skip' },
    { selector: 'table', format: 'dataTable' },
    { selector: 'nav', format: 'skip' },
    { selector: 'noscript', format: 'skip' },
  ],
});

const titleText = compile({ wordwrap: false, limits: NO_LIMITS, baseElements: { selectors: ['title'] } });

/** Text of an HTML page with headings as `#` lines; scripts, styles, images and link targets dropped. */
export function htmlToText(html: string): { text: string; title?: string } {
  const text = bodyText(html);
  const title = /<title[\s>]/iu.test(html) ? titleText(html).trim() : '';
  return { text, title: title === '' ? undefined : title };
}
