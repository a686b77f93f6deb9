// Preloaded with `node --require` into a CLI run: at exit, writes the npm packages the process
// loaded (every CommonJS module passes through require.cache, imported from ESM or not) as a
// JSON list to the file named by LOADED_PACKAGES_OUT.
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  const packages = new Set();
  for (const file of Object.keys(require.cache)) {
    const found = file.match(/node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/g);
    if (found)
      packages.add(
        found
          .at(-1)
          .replace(/^node_modules[\\/]/, '')
          .replace(/\\/g, '/'),
      );
  }
  writeFileSync(process.env.LOADED_PACKAGES_OUT, JSON.stringify([...packages].sort()));
});
