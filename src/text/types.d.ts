declare module 'wink-porter2-stemmer' {
  function stem(word: string): string;
  export = stem;
}

declare module 'stopword' {
  /** English stopwords of the `stopword` package */
  export const eng: string[];
}
