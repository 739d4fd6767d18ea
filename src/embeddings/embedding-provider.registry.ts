import { ValidationFailedError } from '../common/errors';
import type { EmbeddingProviderName } from '../config/app-config';
import type { EmbeddingProvider } from './embedding-provider.port';

/**
 * Which provider serves a model: the offline models by the offline embedder (always available,
 * no network), every other model by the configured EMBEDDING_PROVIDER when it is a remote one.
 * Providers are built on first use.
 */
export class EmbeddingProviderRegistry {
  private readonly built = new Map<EmbeddingProviderName, EmbeddingProvider>();

  constructor(
    private readonly configured: EmbeddingProviderName,
    /** served by the offline embedder whatever is configured */
    private readonly offlineModels: readonly string[],
    private readonly factories: Partial<Record<EmbeddingProviderName, () => EmbeddingProvider>>,
  ) {}

  providerFor(model: string): EmbeddingProvider {
    const name: EmbeddingProviderName | undefined = this.offlineModels.includes(model)
      ? 'offline'
      : this.configured !== 'offline'
        ? this.configured
        : undefined;
    const factory = name && this.factories[name];
    if (!name || !factory) {
      throw new ValidationFailedError([
        {
          field: 'embedding_model',
          message: `no configured embedding provider serves '${model.slice(0, 80)}' (EMBEDDING_PROVIDER=${this.configured}; offline models: ${this.offlineModels.join(', ')})`,
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
