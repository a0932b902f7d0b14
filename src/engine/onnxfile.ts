// Reads just enough of an ONNX file's protobuf to find every tensor that keeps its data outside
// the file (TensorProto.data_location = EXTERNAL, or external_data entries): the initializers of
// the graph and of every subgraph (If/Loop branches), tensors in node attributes, sparse tensors,
// and the functions' nodes. Large raw_data fields are skipped by their length, not copied.
//
// Field numbers from onnx/onnx.proto3: ModelProto.graph 7, .functions 25; GraphProto.node 1,
// .initializer 5, .sparse_initializer 15; NodeProto.attribute 5; AttributeProto.t 5, .g 6,
// .tensors 10, .graphs 11, .sparse_tensor 22, .sparse_tensors 23; FunctionProto.node 7;
// SparseTensorProto.values 1, .indices 2; TensorProto.name 8, .external_data 13,
// .data_location 14; StringStringEntryProto.key 1, .value 2.

export interface ExternalRef {
  /** The tensor's name ('' when it has none, as attribute tensors may). */
  tensor: string;
  /** external_data's `location` entry, if any. */
  location?: string;
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
const EXTERNAL = 1;

type Kind = 'model' | 'graph' | 'node' | 'attribute' | 'function' | 'sparse' | 'tensor' | 'entry';

/** Which length-delimited fields of each message hold a message of which kind. */
const CHILDREN: Record<Kind, Record<number, Kind>> = {
  model: { 7: 'graph', 25: 'function' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  function: { 7: 'node' },
  sparse: { 1: 'tensor', 2: 'tensor' },
  tensor: { 13: 'entry' },
  entry: {},
};

export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

class Reader {
  constructor(private readonly buf: Uint8Array, public pos: number, readonly end: number) {}

  varint(): number {
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new OnnxFormatError('truncated varint');
      const b = this.buf[this.pos++];
      x += (b & 0x7f) * mul;
      if (b < 0x80) return x;
      mul *= 128;
    }
    throw new OnnxFormatError('varint longer than 10 bytes');
  }

  skip(wire: number): void {
    if (wire === VARINT) this.varint();
    else if (wire === I64) this.advance(8);
    else if (wire === I32) this.advance(4);
    else if (wire === LEN) this.advance(this.varint());
    else throw new OnnxFormatError(`unsupported wire type ${wire}`);
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw new OnnxFormatError('field runs past its message');
    this.pos += n;
  }
}

interface TensorInfo { name: string; external: boolean; location?: string }

function walk(buf: Uint8Array, start: number, end: number, kind: Kind, out: ExternalRef[], depth: number): TensorInfo | { key: string; value: string } | undefined {
  if (depth > 64) throw new OnnxFormatError('messages nested too deep');
  const r = new Reader(buf, start, end);
  const tensor: TensorInfo = { name: '', external: false };
  const entry = { key: '', value: '' };
  while (r.pos < end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    const child = CHILDREN[kind][field];
    if (kind === 'tensor' && field === 14 && wire === VARINT) {
      if (r.varint() === EXTERNAL) tensor.external = true;
    } else if (wire === LEN && (child || (kind === 'tensor' && field === 8) || kind === 'entry')) {
      const n = r.varint();
      const s = r.pos;
      r.advance(n);
      if (child) {
        const got = walk(buf, s, s + n, child, out, depth + 1);
        if (child === 'entry' && got && 'key' in got) {
          tensor.external = true; // external_data entries mean the data is elsewhere, whatever data_location says
          if (got.key === 'location') tensor.location = got.value;
        }
      } else if (kind === 'tensor') {
        tensor.name = Buffer.from(buf.buffer, buf.byteOffset + s, n).toString('utf8');
      } else if (field === 1) {
        entry.key = Buffer.from(buf.buffer, buf.byteOffset + s, n).toString('utf8');
      } else if (field === 2) {
        entry.value = Buffer.from(buf.buffer, buf.byteOffset + s, n).toString('utf8');
      }
    } else {
      r.skip(wire);
    }
  }
  if (kind === 'tensor') {
    if (tensor.external) out.push({ tensor: tensor.name, ...(tensor.location !== undefined ? { location: tensor.location } : {}) });
    return tensor;
  }
  if (kind === 'entry') return entry;
  return undefined;
}

/** Every tensor of an ONNX model (the file's bytes) whose data lives in another file. */
export function externalDataRefs(model: Uint8Array): ExternalRef[] {
  const out: ExternalRef[] = [];
  walk(model, 0, model.length, 'model', out, 0);
  return out;
}
