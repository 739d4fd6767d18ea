declare module 'wink-porter2-stemmer' {
  function stem(word: string): string;
  export = stem;
}

declare module 'stopwords-iso' {
  /** ISO 639-1 code → stopwords */
  const lists: Record<string, string[]>;
  export = lists;
}
