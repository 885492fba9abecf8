/**
 * Duplicate object keys in signed JSON. JSON.parse and Go's encoding/json keep the last of
 * two equal keys, other decoders the first, so a payload naming `docker-manifest-digest`
 * twice means one digest to one verifier and another to the next. containers/image refuses
 * such payloads (its ParanoidUnmarshalJSONObject); Sluice refuses them at every level,
 * including where the payload's schema does not care (annotations, unknown bundle fields),
 * since another verifier's schema may.
 *
 * One pass over text that JSON.parse has already accepted, so only strings and structure
 * need telling apart. Iterative (no recursion, however deep the nesting) and linear in the
 * input; memory is the keys of the objects currently open, bounded by the input, which the
 * callers bound in size before parsing.
 */

interface Frame {
  /** Keys seen so far; absent for arrays. */
  keys?: Set<string>;
  /** Objects: the next string is a key. */
  expectKey: boolean;
  /** Where the value being read sits: the last key, or the array index. */
  lastKey: string;
  index: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The path of the first key that repeats in its object (`critical.image.docker-manifest-digest`,
 * `subject[0].digest.sha256`), or undefined when every object's keys are distinct. Keys
 * compare after unescaping (`"a"` and `"\u0061"` are one key) and with lone surrogates read
 * as U+FFFD, as Go decodes them. `text` must be valid JSON.
 */
export function firstDuplicateKey(text: string): string | undefined {
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === BACKSLASH) {
          escaped = true;
          j += 2;
        } else if (d === QUOTE) break;
        else j++;
      }
      const top = stack.at(-1);
      if (top?.keys && top.expectKey) {
        let key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (!key.isWellFormed()) key = key.toWellFormed();
        if (top.keys.has(key)) return pathOf(stack, key);
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j + 1;
      continue;
    }
    switch (c) {
      case 0x7b: // {
        stack.push({ keys: new Set(), expectKey: true, lastKey: '', index: 0 });
        break;
      case 0x5b: // [
        stack.push({ expectKey: false, lastKey: '', index: 0 });
        break;
      case 0x7d: // }
      case 0x5d: // ]
        stack.pop();
        break;
      case 0x2c: {
        // ,
        const top = stack.at(-1);
        if (top?.keys) top.expectKey = true;
        else if (top) top.index++;
        break;
      }
    }
    i++;
  }
  return undefined;
}

const MAX_PATH_CHARS = 300;

function pathOf(stack: readonly Frame[], key: string): string {
  let path = '';
  for (let k = 0; k < stack.length - 1 && path.length <= MAX_PATH_CHARS; k++) {
    const f = stack[k]!;
    path += f.keys ? `${path === '' ? '' : '.'}${segment(f.lastKey)}` : `[${f.index}]`;
  }
  return `${path === '' ? '' : `${path}.`}${segment(key)}`.slice(0, MAX_PATH_CHARS);
}

/** Keys are attacker text: shown with anything outside printable ASCII escaped, and cut short. */
function segment(key: string): string {
  const shown = key
    .slice(0, 100)
    .replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return key.length > 100 ? `${shown}...` : shown;
}
