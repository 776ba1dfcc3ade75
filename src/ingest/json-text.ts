// The JSON text of a value that came out of JSON.parse, kept whole when it is shallow enough to be
// serialised again anywhere, and otherwise cut to that depth. Pure.

/**
 * The deepest nesting kept whole, counting every array and object (a string or number is depth 0).
 * JSON.parse builds values of any depth, but JSON.stringify recurses on the native stack and throws
 * RangeError a few thousand levels down, and fewer on a smaller stack or called from deep inside
 * other code. Real payloads are nowhere near: Meta's deepest items (interactive replies, errors with
 * error_data) nest under ten levels. 64 leaves a wide margin for any provider and stays far below
 * any stack, with room to spare for the levels a response wraps around a stored item.
 */
export const MAX_KEPT_DEPTH = 64;

/** Says what happened to a cut value: in its place, and in a dead letter's reason. */
export const CUT_DESCRIPTION = `nested deeper than ${MAX_KEPT_DEPTH} levels`;

/** What an array or object deeper than MAX_KEPT_DEPTH is replaced by. */
export const CUT_MARKER = `[cut: ${CUT_DESCRIPTION}]`;

export interface JsonText {
  readonly text: string;
  /** True when some array or object nested too deep was replaced by CUT_MARKER. */
  readonly cut: boolean;
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

function children(value: object): unknown[] {
  return Array.isArray(value) ? value : Object.values(value);
}

/**
 * Whether `value` nests more than `room` arrays and objects. Recursion stops at `room`, so the
 * stack never goes deeper than MAX_KEPT_DEPTH + 1 frames whatever the input.
 */
function deeperThan(value: unknown, room: number): boolean {
  if (!isContainer(value)) return false;
  if (room === 0) return true;
  for (const child of children(value)) if (deeperThan(child, room - 1)) return true;
  return false;
}

/** A copy of `value` with every array or object below `room` levels replaced by CUT_MARKER. */
function cutCopy(value: unknown, room: number): unknown {
  if (!isContainer(value)) return value;
  if (room === 0) return CUT_MARKER;
  if (Array.isArray(value)) return value.map((child: unknown) => cutCopy(child, room - 1));
  // fromEntries defines own properties, so a "__proto__" key from JSON.parse stays a plain key.
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, cutCopy(child, room - 1)]));
}

/**
 * JSON text of a value that came out of JSON.parse: exactly JSON.stringify's when it nests at most
 * MAX_KEPT_DEPTH levels; otherwise every array or object below that depth is replaced by CUT_MARKER,
 * so the text can always be parsed and serialised again.
 */
export function boundedJsonText(value: unknown): JsonText {
  const cut = deeperThan(value, MAX_KEPT_DEPTH);
  // JSON.stringify gives undefined for undefined, which JSON.parse never produces.
  const text: string | undefined = JSON.stringify(cut ? cutCopy(value, MAX_KEPT_DEPTH) : value);
  return { text: text ?? 'null', cut };
}
