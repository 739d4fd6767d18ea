import { setImmediate as nextTurn } from 'node:timers/promises';
import { ValidationFailedError } from '../../common/errors';
import { EmbeddingProvider, EmbeddingResult } from '../embedding-provider.port';
import { HashedFeatureOptions, hashedFeatureVector } from './hashed-features';

/**
 * The offline models: deterministic, no network, no weights to download. A model's features
 * never change under its name (stored vectors stay comparable with new query vectors); a better
 * recipe gets a new name.
 *
 * offline-hash-v1: 512 dimensions (a 1024-dimension variant scored +0.03 nDCG@10 dense-only on
 * SciFact train for twice the vector-store cost), terms weight 1, character 3- and 4-grams 0.3,
 * CJK characters 0.3, broad stopwords dropped.
 *
 * offline-hash-v2 (the default): v1's features, each term's scaled by its static idf from a
 * general-language frequency list (SUBTLEXus, `static-idf.ts`), so a rare technical word outweighs
 * an everyday one without any corpus statistic. Dense nDCG@10 on SciFact train 0.512 → 0.541;
 * on Chinese text it equals v1 (no CJK term is in the list, so all weigh the same).
 * Figures: bench/quality/README.md.
 */
export const OFFLINE_MODELS: Readonly<Record<string, Readonly<HashedFeatureOptions>>> = Object.freeze({
  'offline-hash-v1': Object.freeze({
    dimension: 512,
    termWeight: 1,
    ngramWeight: 0.3,
    ngramSizes: Object.freeze([3, 4]),
    cjkCharWeight: 0.3,
    broadStopwords: true,
    staticIdf: false,
  }),
  'offline-hash-v2': Object.freeze({
    dimension: 512,
    termWeight: 1,
    ngramWeight: 0.3,
    ngramSizes: Object.freeze([3, 4]),
    cjkCharWeight: 0.3,
    broadStopwords: true,
    staticIdf: true,
  }),
});

/** longest run of offline embedding on the event loop before it yields */
const EMBED_SLICE_MS = 10;

/** the offline model of new knowledge bases when EMBEDDING_MODEL is unset */
export const DEFAULT_OFFLINE_MODEL = 'offline-hash-v2';

export class OfflineEmbeddingProvider extends EmbeddingProvider {
  readonly provider = 'offline';

  async embed(model: string, texts: string[], signal?: AbortSignal): Promise<EmbeddingResult> {
    const options = modelOptions(model);
    const vectors: Float32Array[] = [];
    let inputTokens = 0;
    let sliceStarted = performance.now();
    for (const text of texts) {
      // it embeds on the event loop that serves HTTP: a batch of long Chinese chunks took over a
      // second, so give the loop a turn every few milliseconds
      if (performance.now() - sliceStarted > EMBED_SLICE_MS) {
        await nextTurn();
        sliceStarted = performance.now();
      }
      signal?.throwIfAborted();
      const { vector, terms } = hashedFeatureVector(text, options);
      vectors.push(vector);
      inputTokens += terms;
    }
    return { vectors, inputTokens };
  }

  async dimension(model: string): Promise<number> {
    return modelOptions(model).dimension;
  }
}

/** whether `model` is one of the offline hashed-feature models (served in process, no provider call) */
export function isOfflineModel(model: string): boolean {
  return Object.hasOwn(OFFLINE_MODELS, model);
}

function modelOptions(model: string): Readonly<HashedFeatureOptions> {
  const options = OFFLINE_MODELS[model];
  if (!options) {
    throw new ValidationFailedError([
      {
        field: 'embedding_model',
        message: `unknown offline model '${model.slice(0, 80)}' (known: ${Object.keys(OFFLINE_MODELS).join(', ')})`,
      },
    ]);
  }
  return options;
}
