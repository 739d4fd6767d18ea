import stopwordsIso from 'stopwords-iso';

/**
 * The stopwords of the service, all from here.
 *
 * The analyzer drops {@link ENGLISH_STOPWORDS}: function words only, so the lexical indexes, the
 * offline embedder and the answer grading all see the same terms. These are the 108 words of the
 * `stopword` package 3.1.5 (MIT licence), which every stored lexical index was built with. Every
 * one is also in stopwords-iso's English list (tested).
 *
 * The offline embedder further ignores {@link generalWords}: stopwords-iso's broad English and
 * Chinese lists, a stand-in for the low end of an idf it has no corpus to learn. They are part of
 * offline-hash-v1's and v2's features, so stored vectors depend on them. The analyzer does not use
 * them: BM25 weighs common words by its own idf, and dropping them measured worse on SciFact
 * (nDCG@10 0.691 → 0.689, Recall@100 0.924 → 0.915).
 */
export const ENGLISH_STOPWORDS: ReadonlySet<string> = new Set(
  (
    'about after all also am an and another any are as at be because been before being between both but by came can ' +
    'come could did do each for from get got has had he have her here him himself his how if in into is it like make ' +
    'many me might more most much must my never now of on only or other our out over said same should since some still ' +
    'such take than that the their them then there these they this those through to too under up very was way we well ' +
    'were what where which while who with would you your a i'
  ).split(' '),
);

/** stopwords-iso's English words of Latin letters (the analyzer's tokens never hold an apostrophe) and its Chinese words */
export function generalWords(): { english: string[]; chinese: string[] } {
  return { english: stopwordsIso.en.filter((word) => /^[a-z]+$/.test(word)), chinese: stopwordsIso.zh };
}
