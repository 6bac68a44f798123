// tracegate's errors in plain words, for people rather than programs.
import type { Problem } from "./client.js";

/**
 * What an error answer means for the person using a trace UI, in one
 * sentence, by status: 401 sign in again, 403 the token does not grant the
 * tenant, 404 not found (or not yours: tracegate never tells the two apart),
 * 429 slow down (with Retry-After when given), 5xx trouble with Tempo or
 * tracegate. `problem` adds tracegate's own detail where it helps (400).
 */
export function describeError(status: number, problem?: Problem, retryAfter?: string | null): string {
  switch (true) {
    case status === 400:
      return `The request was not accepted${problem?.detail ? `: ${problem.detail}` : "."}`;
    case status === 401:
      return "Your sign-in has expired or is not valid: sign in again.";
    case status === 403:
      return "Your token does not grant access to this tenant.";
    case status === 404:
      return "Not found: it does not exist, or it is not yours.";
    case status === 429: {
      const secs = retryAfter != null && /^[0-9]+$/.test(retryAfter) ? Number(retryAfter) : undefined;
      return `Too many requests: slow down${secs === undefined ? " and try again shortly" : ` and try again in ${secs} s`}.`;
    }
    case status === 502 || status === 503 || status === 504:
      return `Tempo, where the traces are stored, is in trouble (${status}): try again in a moment.`;
    case status >= 500:
      return `tracegate had an internal error (${status}): try again, and tell its operators if it persists.`;
    case status === 0:
      return "tracegate could not be reached: check the address and your network.";
  }
  return `Unexpected answer ${status}${problem?.title ? ` (${problem.title})` : ""}.`;
}
