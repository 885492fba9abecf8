/**
 * Text that came from outside (a registry's labels, a policy's keys, a reference someone
 * typed) on its way to a person. Two dangers: control characters that a terminal obeys (ANSI
 * and OSC sequences rewrite the screen, the title, the clipboard; bidi overrides reorder what
 * is read), and input so long that it buries the message around it.
 */

/**
 * C0 controls but tab and newline, DEL, C1 controls, and the bidirectional formatting
 * characters (marks, embeddings, overrides, isolates) plus the Unicode line separators.
 */
// eslint-disable-next-line no-control-regex -- control characters are what this matches
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROL = new RegExp(CONTROLS.source);
// eslint-disable-next-line no-control-regex -- control characters are what this matches
const CONTROLS_AND_LAYOUT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeOne(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * Replaces every control character with its `\uXXXX` escape, keeping tab and newline.
 * The escape is JSON's (and YAML's, inside double quotes), so JSON text passed through stays
 * exactly the same data: JSON.stringify leaves DEL, C1 and bidi characters raw, and they
 * come out escaped; everything else is unchanged.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, escapeOne);
}

/** Like escapeControls, and tab and newline too: for a value that must stay on its line (a table cell). */
export function escapeToLine(text: string): string {
  return text.replace(CONTROLS_AND_LAYOUT, escapeOne);
}

/** Whether a string holds anything escapeControls would change. */
export function hasControls(text: string): boolean {
  return CONTROL.test(text);
}

/** Echoed input is cut here: enough to recognise it, not enough to bury the message. */
export const MAX_ECHO_CHARS = 200;

/** Input as a message may quote it: cut to `max` characters, saying how long it was. */
export function excerpt(input: string, max = MAX_ECHO_CHARS): string {
  if (input.length <= max) return input;
  return `${input.slice(0, max)}... (${input.length} characters)`;
}
