#!/usr/bin/env node
/**
 * Example client: streams audio to the service and reports what it saw.
 *   npm run client -- --url ws://localhost:5000/v1/ingest --token <jwt> [--file audio.raw]
 * Without --file it sends a generated 440 Hz tone (pcm_s16le) for --seconds.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { IngestClient } from './ingest-client';

const USAGE = `usage: ingest-client --url <ws(s)://host:port/v1/ingest> --token <jwt>
  [--file <raw audio>] [--seconds 5] [--sample-rate 8000] [--frame-ms 20]
  [--interaction-id <id>] [--fast] [--insecure]`;

function tone(seconds: number, sampleRate: number): Buffer {
  const samples = Math.floor(seconds * sampleRate);
  const out = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++)
    out.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / sampleRate)), i * 2);
  return out;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      file: { type: 'string' },
      seconds: { type: 'string', default: '5' },
      'sample-rate': { type: 'string', default: '8000' },
      'frame-ms': { type: 'string', default: '20' },
      'interaction-id': { type: 'string' },
      fast: { type: 'boolean', default: false },
      insecure: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !values.url || !values.token) {
    process.stderr.write(USAGE + '\n');
    return values.help ? 0 : 2;
  }
  const sampleRate = Number(values['sample-rate']);
  const frameMs = Number(values['frame-ms']);
  const audio = values.file ? fs.readFileSync(values.file) : tone(Number(values.seconds), sampleRate);
  const frameBytes = Math.max(2, Math.floor((sampleRate * frameMs) / 1000) * 2);
  const interactionId = values['interaction-id'] ?? `demo-${Date.now()}`;

  const client = await IngestClient.connect(values.url, { token: values.token, insecure: values.insecure });
  const started = await client.start({ interactionId, sampleRate });
  process.stdout.write(`started: ${JSON.stringify(started)}\n`);
  let frames = 0;
  for (let offset = 0; offset < audio.length; offset += frameBytes) {
    client.sendFrame(audio.subarray(offset, offset + frameBytes));
    frames++;
    if (!values.fast) await new Promise((r) => setTimeout(r, frameMs));
  }
  const { stopped, close } = await client.stop();
  process.stdout.write(`sent ${frames} frames (${audio.length} bytes); committed up to ${client.lastCommitted()}\n`);
  process.stdout.write(`stopped: ${JSON.stringify(stopped)}; closed with ${close.code} ${close.reason}\n`);
  return close.code === 1000 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 1;
  },
);
