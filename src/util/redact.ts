/**
 * Keeping secrets out of what is shown: answer files (`describe()`), error texts that become
 * Thought descriptions, failure logs and observations the model reads. One set of rules for the
 * model backbones, the simulator and the RapidAPI backend.
 */

/** What a removed secret is replaced with. */
const MASK = '***';

/** Shorter secrets are not looked for: replacing every `abc` would garble the text and hide nothing. */
export const MIN_SECRET_LENGTH = 4;

/** `scheme://user:password@` at the start of a URL: the userinfo is everything up to the last `@` of the authority. */
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i;
/** The same anywhere in a text (an authority ends at white space too). */
const TEXT_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi;
/** OpenAI-style keys, whole or masked as OpenAI's 401 message quotes them (`sk-abc***wxyz`, `sk-proj-...`). */
const OPENAI_KEY = /\bsk-[A-Za-z0-9_*-]{8,}/g;

/** The URL without `user:password@`; anything else is left as it is (also a URL that does not parse). */
export function withoutCredentials(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(URL_USERINFO, '$1');
  }
  if (parsed.username === '' && parsed.password === '') return url;
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
}

/** The user name and password of a URL, as written and decoded: what an error text may quote apart from the URL. */
export function urlCredentials(url: string | undefined): string[] {
  if (url === undefined) return [];
  try {
    const { username, password } = new URL(url);
    return [username, password].filter((part) => part !== '').flatMap((part) => [part, decodeLoosely(part)]);
  } catch {
    return [];
  }
}

/**
 * A function that removes from a text: the credentials of every URL in it, each given secret
 * (those of at least MIN_SECRET_LENGTH characters; empty and undefined entries are skipped) and
 * anything shaped like an OpenAI key.
 */
export function redactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  const searched = [...new Set(secrets.filter((secret): secret is string => secret !== undefined && secret.length >= MIN_SECRET_LENGTH))]
    // the longest first, so that a secret containing another is removed whole
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let result = text.replace(TEXT_USERINFO, '$1');
    for (const secret of searched) result = result.split(secret).join(MASK);
    return result.replace(OPENAI_KEY, `sk-${MASK}`);
  };
}

/** `redactor(secrets)` applied once. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  return redactor(secrets)(text);
}

function decodeLoosely(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
