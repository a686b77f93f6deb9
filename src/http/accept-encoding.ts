/**
 * Whether a request's Accept-Encoding (RFC 9110 §12.5.3) takes gzip: named with a q-value above 0,
 * or covered by `*` above 0 when gzip itself is not named. Prometheus asks for gzip on every scrape;
 * an absent header means identity only (servers may compress anyway, but a scraper without the
 * header may not decode).
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text) return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const part of text.split(',')) {
    const [coding = '', ...params] = part.split(';').map((piece) => piece.trim());
    const q = qualityOf(params);
    const name = coding.toLowerCase();
    if (name === 'gzip' || name === 'x-gzip') gzip = Math.max(gzip ?? 0, q);
    else if (name === '*') any = q;
  }
  return (gzip ?? any ?? 0) > 0;
}

/** The `q` parameter (1 when absent; 0 when malformed, so a garbled header never forces gzip). */
function qualityOf(params: string[]): number {
  const q = params.find((param) => param.toLowerCase().startsWith('q='));
  if (q === undefined) return 1;
  const value = q.slice(2).trim();
  return /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? Number(value) : 0;
}
