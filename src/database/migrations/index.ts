import { InitialSchema1732500000000 } from './1732500000000-initial-schema';

/** Every migration, in order. New ones are appended here. */
export const MIGRATIONS = [InitialSchema1732500000000];
