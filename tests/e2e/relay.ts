// A TCP relay from a loopback port to a server, that a test can take down (a network drop) or freeze (a laptop lid
// closed, a NAT that dropped its state: the TCP connection stays open but carries nothing).
import net from 'node:net';

export class Relay {
  private sockets = new Set<net.Socket>();
  /** Each relayed direction, to stop and restart its flow. */
  private links = new Set<[net.Socket, net.Socket]>();
  private open = true;
  private frozen = false;
  private server: net.Server;

  private constructor(target: number) {
    this.server = net.createServer((client) => {
      if (!this.open) return client.destroy();
      const upstream = net.connect(target, '127.0.0.1');
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as [net.Socket, net.Socket][]) {
        const link: [net.Socket, net.Socket] = [a, b];
        this.links.add(link);
        // Frozen: the bytes wait in the socket buffers (and TCP's), nothing is lost and nothing flows.
        if (this.frozen) a.pause();
        else a.pipe(b); // carries a half-close across; only an error tears the other side down
        a.on('error', () => b.destroy());
        this.sockets.add(a);
        a.on('close', () => {
          this.sockets.delete(a);
          this.links.delete(link);
        });
      }
    });
  }

  static async start(target: number): Promise<Relay> {
    const relay = new Relay(target);
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** A network drop that lasts: every relayed socket is destroyed, and new connections are refused until `up()`. */
  down() {
    this.open = false;
    this.cut();
  }

  /** New connections are relayed again. */
  up() {
    this.open = true;
  }

  /**
   * Silence without a close: every connection, open or new, stays open but nothing is forwarded either way (no
   * FIN, no RST), until `thaw()`.
   */
  freeze() {
    this.frozen = true;
    for (const [a, b] of this.links) {
      a.unpipe(b);
      a.pause();
    }
  }

  /** Everything held since `freeze()` flows again, in order. */
  thaw() {
    this.frozen = false;
    for (const [a, b] of this.links) a.pipe(b);
  }

  private cut() {
    for (const socket of this.sockets) socket.destroy();
  }

  stop() {
    this.cut();
    this.server.close();
  }
}
