// Regenerates the schema-derived docs (run through `npm run docs`, after a build).
import { readFileSync, writeFileSync } from 'node:fs';
import { renderExampleConfig, spliceReference } from '../dist/config/docs.js';

writeFileSync(new URL('../config/runwarden.example.yaml', import.meta.url), renderExampleConfig());
const readmeUrl = new URL('../README.md', import.meta.url);
writeFileSync(readmeUrl, spliceReference(readFileSync(readmeUrl, 'utf8')));
console.log('wrote config/runwarden.example.yaml and the README configuration reference');
