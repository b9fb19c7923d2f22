// zod (inside the SDK) probes `new Function` once; under the page's strict CSP that probe is reported as a violation.
import { config } from 'zod/v4/core';

// Interpreted validation instead: same results, no eval, no CSP report.
config({ jitless: true });
