/**
 * Maven versions, ordered as `org.apache.maven.artifact.versioning.ComparableVersion` of
 * maven-artifact 3.8.7 (the one Debian's `maven` ships) orders them: a version is a list of
 * items split on `.` and `-` and on digit/letter transitions; a `-` (or a transition) opens a
 * sub-list; trailing "null" items (0, "", ga, final, release) are dropped from each list; known
 * qualifiers sort alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp,
 * unknown ones after all of them, lexically; `a1`, `b1`, `m1` mean alpha-1, beta-1, milestone-1.
 *
 * Maven accepts any string. Here a version must be printable ASCII without spaces, which keeps
 * Java's Unicode-aware `Character.isDigit` and `toLowerCase` out of the question.
 */
import { defineScheme, Invalid, type VersionScheme } from './scheme.ts';

/** Java's IntItem (up to 9 digits), LongItem (up to 18), BigIntegerItem; ordered by kind first. */
interface NumberItem {
  type: 'number';
  /** 0 int, 1 long, 2 big: an int is always less than a long, whatever their values. */
  size: number;
  value: bigint;
}
interface StringItem {
  type: 'string';
  value: string;
}
interface ListItem {
  type: 'list';
  items: Item[];
}
type Item = NumberItem | StringItem | ListItem;

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const RELEASE_VERSION_INDEX = String(QUALIFIERS.indexOf(''));

function numberItem(digits: string): NumberItem {
  // stripLeadingZeroes keeps an all-zero string whole, so "0000000000" is a LongItem.
  const stripped = /^0*$/.test(digits) ? digits || '0' : digits.replace(/^0+/, '');
  const size = stripped.length <= 9 ? 0 : stripped.length <= 18 ? 1 : 2;
  return { type: 'number', size, value: BigInt(stripped) };
}

function stringItem(value: string, followedByDigit: boolean): StringItem {
  if (followedByDigit && value.length === 1) {
    if (value === 'a') value = 'alpha';
    else if (value === 'b') value = 'beta';
    else if (value === 'm') value = 'milestone';
  }
  return { type: 'string', value: Object.hasOwn(ALIASES, value) ? ALIASES[value]! : value };
}

function comparableQualifier(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i === -1 ? `${QUALIFIERS.length}-${q}` : String(i);
}

const cmp = (a: bigint | number | string, b: bigint | number | string): number => (a < b ? -1 : a > b ? 1 : 0);

function isNull(item: Item): boolean {
  if (item.type === 'number') return item.value === 0n;
  if (item.type === 'string') return comparableQualifier(item.value) === RELEASE_VERSION_INDEX;
  return item.items.length === 0;
}

function compareItem(a: Item, b: Item | null): number {
  switch (a.type) {
    case 'number':
      if (b === null) return a.value === 0n ? 0 : 1;
      if (b.type === 'number') return a.size !== b.size ? cmp(a.size, b.size) : cmp(a.value, b.value);
      return 1;
    case 'string':
      if (b === null) return cmp(comparableQualifier(a.value), RELEASE_VERSION_INDEX);
      if (b.type === 'string') return cmp(comparableQualifier(a.value), comparableQualifier(b.value));
      return -1;
    case 'list':
      if (b === null) {
        for (const item of a.items) {
          const r = compareItem(item, null);
          if (r !== 0) return r;
        }
        return 0;
      }
      if (b.type === 'number') return -1;
      if (b.type === 'string') return 1;
      for (let i = 0; i < a.items.length || i < b.items.length; i++) {
        const l = a.items[i] ?? null;
        const r = b.items[i] ?? null;
        const result = l === null ? (r === null ? 0 : -compareItem(r, l)) : compareItem(l, r);
        if (result !== 0) return result;
      }
      return 0;
  }
}

function normalize(list: ListItem): void {
  for (let i = list.items.length - 1; i >= 0; i--) {
    const last = list.items[i]!;
    if (isNull(last)) list.items.splice(i, 1);
    else if (last.type !== 'list') break;
  }
}

/** ComparableVersion.parseVersion, step for step. */
export function parseMavenVersion(input: string): ListItem | Invalid {
  if (input === '') return new Invalid('empty');
  if (!/^[\x21-\x7e]+$/.test(input)) return new Invalid('only printable ASCII without spaces is allowed');
  const version = input.toLowerCase();
  const items: ListItem = { type: 'list', items: [] };
  let list = items;
  const stack: ListItem[] = [list];
  const push = (): void => {
    const sub: ListItem = { type: 'list', items: [] };
    list.items.push(sub);
    list = sub;
    stack.push(sub);
  };
  const parseItem = (isDigit: boolean, buf: string): Item => (isDigit ? numberItem(buf) : stringItem(buf, false));
  let isDigit = false;
  let startIndex = 0;
  for (let i = 0; i < version.length; i++) {
    const c = version[i]!;
    if (c === '.' || c === '-') {
      list.items.push(i === startIndex ? numberItem('0') : parseItem(isDigit, version.slice(startIndex, i)));
      startIndex = i + 1;
      if (c === '-') push();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > startIndex) {
        // 1.0.0.X1 < 1.0.0-X2: treat .X as -X for any string qualifier X
        if (list.items.length > 0) push();
        list.items.push(stringItem(version.slice(startIndex, i), true));
        startIndex = i;
        push();
      }
      isDigit = true;
    } else {
      if (isDigit && i > startIndex) {
        list.items.push(parseItem(true, version.slice(startIndex, i)));
        startIndex = i;
        push();
      }
      isDigit = false;
    }
  }
  if (version.length > startIndex) {
    if (!isDigit && list.items.length > 0) push();
    list.items.push(parseItem(isDigit, version.slice(startIndex)));
  }
  while (stack.length > 0) normalize(stack.pop()!);
  return items;
}

/** ComparableVersion.getCanonical(): the normalised form Maven prints. */
export function mavenCanonical(version: string): string {
  const parsed = parseMavenVersion(version);
  if (parsed instanceof Invalid) throw new Error(parsed.reason);
  const show = (list: ListItem): string => {
    // Java appends a separator only once the buffer is non-empty, so a leading "" swallows it.
    let buffer = '';
    for (const item of list.items) {
      if (buffer.length > 0) buffer += item.type === 'list' ? '-' : '.';
      buffer += item.type === 'list' ? show(item) : item.type === 'number' ? item.value.toString() : item.value;
    }
    return buffer;
  };
  return show(parsed);
}

export const maven: VersionScheme = defineScheme('maven', parseMavenVersion, (a, b) => compareItem(a, b));
