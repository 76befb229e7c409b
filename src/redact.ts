/**
 * Secrets out of anything printed or saved: URLs lose their password (the
 * `user:password@` part and `?password=`-style parameters), command lines
 * lose those and the values of secret flags (`--token t`).
 */

const MASK = '***';
/** Query parameters that carry a secret in libpq-style and common URLs. */
const SECRET_PARAMS = new Set(['password', 'pass', 'pwd', 'passwd', 'sslpassword', 'secret', 'token', 'access_token', 'api_key', 'apikey']);
const SECRET_FLAGS = new Set(['--token', '--password', '--secret']);
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s'"<>()]+/gi;

/** A URL with its password and secret query parameters replaced by `***`. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redactUnparsed(url);
  }
  if (parsed.password) parsed.password = MASK;
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMS.has(name.toLowerCase())) parsed.searchParams.set(name, MASK);
  }
  return parsed.toString();
}

/** Every URL inside a text redacted (free text: error messages, recorded commands). */
export function redactText(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}

/** A command line as one string, fit to print or record: URLs redacted, secret flags' values masked. */
export function redactCommandLine(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    if (SECRET_FLAGS.has(arg) && i + 1 < argv.length) {
      out.push(arg, MASK);
      i++;
    } else if (arg.startsWith('--') && eq > 0 && SECRET_FLAGS.has(arg.slice(0, eq))) {
      out.push(`${arg.slice(0, eq)}=${MASK}`);
    } else {
      out.push(redactText(arg));
    }
  }
  return out.join(' ');
}

/** Best effort for what the URL parser refuses: `scheme://user:secret@...` and `password=...` parameters. */
function redactUnparsed(text: string): string {
  return text
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*:)[^@\s]*@/i, `$1${MASK}@`)
    .replace(/([?&;\s])([a-z_]+)=([^&\s]*)/gi, (whole, sep: string, name: string) => (SECRET_PARAMS.has(name.toLowerCase()) ? `${sep}${name}=${MASK}` : whole));
}
