// webpack 5 as a new user sets it up: an entry and an HTML page, and no rule for the wasm file (webpack emits
// `new URL('…wasm', import.meta.url)` as an asset by itself).
import HtmlWebpackPlugin from 'html-webpack-plugin';
import { fileURLToPath } from 'node:url';

export default {
  mode: 'production',
  entry: './src/main.js',
  output: { path: fileURLToPath(new URL('dist/', import.meta.url)), clean: true },
  plugins: [new HtmlWebpackPlugin({ template: './src/index.html' })],
};
