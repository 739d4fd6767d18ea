declare module 'wink-porter2-stemmer' {
  function stem(word: string): string;
  export = stem;
}

declare module 'stopword' {
  /** English stopwords of the `stopword` package */
  export const eng: string[];
}

declare module 'stopwords-iso' {
  /** ISO 639-1 code → stopwords */
  const lists: Record<string, string[]>;
  export = lists;
}
