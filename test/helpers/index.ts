/** One import for integration tests: `import { startRegistry, buildImage } from '../helpers/index.ts'`. */
export * from './ports.ts';
export * from './proc.ts';
export * from './tls.ts';
export * from './token-server.ts';
export * from './registry.ts';
export * from './images.ts';
export * from './proxy.ts';
export * from './http.ts';
export * from './event-sink.ts';
