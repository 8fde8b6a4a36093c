/**
 * Names taken from requests and files (categories, tools, APIs) become path segments; one that
 * is empty, `.`, `..`, or holds a separator or NUL could leave the folder it is joined to.
 */
export function isSafeSegment(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}
