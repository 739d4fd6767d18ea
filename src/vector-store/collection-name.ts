/**
 * One collection per embedding model and dimension, shared by every tenant (tenant and KB are
 * payload fields): `chunks_<model>_<dimension>`, the model name reduced to [a-z0-9_].
 */
export function vectorCollectionName(model: string, dimension: number): string {
  return `chunks_${model.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_${dimension}`;
}
