import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import type { Cursor } from '../common/pagination';

/** Orders by (created_at, id) and starts after the cursor; fetches one extra row to know if more follow. */
export function applyKeyset<T extends ObjectLiteral>(
  query: SelectQueryBuilder<T>,
  alias: string,
  cursor: Cursor | undefined,
  limit: number,
): SelectQueryBuilder<T> {
  if (cursor) {
    query.andWhere(`(${alias}.created_at > :cursorCreatedAt OR (${alias}.created_at = :cursorCreatedAt AND ${alias}.id > :cursorId))`, {
      cursorCreatedAt: cursor.createdAt,
      cursorId: cursor.id,
    });
  }
  return query
    .orderBy(`${alias}.created_at`, 'ASC')
    .addOrderBy(`${alias}.id`, 'ASC')
    .take(limit + 1);
}
