import { ValidationFailedError } from '../common/errors';
import type { EmbeddingProviderName } from '../config/app-config';
import type { EmbeddingProvider } from './embedding-provider.port';

/** Models whose name starts with this are served by the offline embedder whatever is configured. */
export const OFFLINE_MODEL_PREFIX = 'offline-';

/**
 * Which provider serves a model: offline models by the offline embedder (always available, no
 * network), every other model by the configured EMBEDDING_PROVIDER when it is a remote one.
 * Providers are built on first use.
 */
export class EmbeddingProviderRegistry {
  private readonly built = new Map<EmbeddingProviderName, EmbeddingProvider>();

  constructor(
    private readonly configured: EmbeddingProviderName,
    private readonly factories: Partial<Record<EmbeddingProviderName, () => EmbeddingProvider>>,
  ) {}

  providerFor(model: string): EmbeddingProvider {
    const name: EmbeddingProviderName | undefined = model.startsWith(OFFLINE_MODEL_PREFIX)
      ? 'offline'
      : this.configured !== 'offline'
        ? this.configured
        : undefined;
    const factory = name && this.factories[name];
    if (!name || !factory) {
      throw new ValidationFailedError([
        {
          field: 'embedding_model',
          message: `no configured embedding provider serves '${model.slice(0, 80)}' (EMBEDDING_PROVIDER=${this.configured}; offline models start with '${OFFLINE_MODEL_PREFIX}')`,
        },
      ]);
    }
    let provider = this.built.get(name);
    if (!provider) {
      provider = factory();
      this.built.set(name, provider);
    }
    return provider;
  }
}
