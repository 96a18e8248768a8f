// A static export (out/), served by the test as any host would serve it.
export default { output: 'export' };
