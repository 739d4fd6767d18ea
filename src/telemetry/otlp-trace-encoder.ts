import type { Attributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

/**
 * OTLP/protobuf `ExportTraceServiceRequest` encoding of finished spans, byte for byte what
 * `@opentelemetry/otlp-transformer`'s ProtobufTraceSerializer writes (a test holds the two
 * together), at about a third of its CPU. The SDK's encoder sizes the message in a first pass, then
 * allocates and zero-fills a buffer of that size and writes it, and turns every trace and span id
 * into a fresh Uint8Array; with ~10 spans per request that was ~30 µs of each sampled request on the
 * event loop. Here one buffer is kept and reused, a nested message reserves one length byte and moves
 * its body only when it is longer than 127 bytes, and ids are written straight from their hex.
 *
 * Field numbers: opentelemetry-proto, trace/v1/trace.proto and common/v1/common.proto.
 */
export function encodeTraceExportRequest(spans: ReadableSpan[]): Uint8Array {
  const request = new TraceRequestBuilder();
  for (const span of spans) request.add(span);
  return request.build();
}

/**
 * An export request built span by span: each span is encoded when it is added, into the bytes of
 * its resource and scope, so the span object itself can be collected at once instead of waiting
 * in a queue for its batch (OtlpProtoSpanProcessor). Groups keep the order in which their first
 * span came, as the SDK's encoder does.
 */
export class TraceRequestBuilder {
  private readonly groups = new Map<Resource, Map<InstrumentationScope, EncodedSpans>>();
  /** each scope's buffer, kept across reset() so a steady stream of batches allocates none */
  private readonly buffers = new Map<InstrumentationScope, EncodedSpans>();
  spanCount = 0;
  byteCount = 0;

  add(span: ReadableSpan): void {
    let byScope = this.groups.get(span.resource);
    if (!byScope) this.groups.set(span.resource, (byScope = new Map<InstrumentationScope, EncodedSpans>()));
    let encoded = byScope.get(span.instrumentationScope);
    if (!encoded) {
      encoded = this.buffers.get(span.instrumentationScope) ?? new EncodedSpans();
      // a scope seen under a second resource in one batch gets a buffer of its own
      if (encoded.length > 0) encoded = new EncodedSpans();
      else this.buffers.set(span.instrumentationScope, encoded);
      byScope.set(span.instrumentationScope, encoded);
    }
    const writer = sharedWriter();
    writer.tag(2, LENGTH_DELIMITED); // ScopeSpans.spans
    writeSpan(writer, span);
    this.byteCount += encoded.append(writer);
    this.spanCount++;
  }

  /** the resources of the spans added so far */
  resources(): IterableIterator<Resource> {
    return this.groups.keys();
  }

  /** empties the builder for the next batch, keeping its buffers (up to a size) */
  reset(): void {
    this.groups.clear();
    this.spanCount = 0;
    this.byteCount = 0;
    for (const [scope, encoded] of this.buffers) {
      if (!encoded.clear()) this.buffers.delete(scope);
    }
    // scopes come from code, not from tenants; a bound all the same
    if (this.buffers.size > 64) this.buffers.clear();
  }

  /** the request's bytes, their own (the builder can be reset or dropped) */
  build(): Uint8Array {
    const writer = sharedWriter();
    for (const [resource, scopes] of this.groups) {
      writer.tag(1, LENGTH_DELIMITED); // ExportTraceServiceRequest.resource_spans
      const resourceSpans = writer.startMessage();
      writeResource(writer, resource);
      for (const [scope, encoded] of scopes) {
        writer.tag(2, LENGTH_DELIMITED); // ResourceSpans.scope_spans
        const scopeSpans = writer.startMessage();
        writeScope(writer, scope);
        encoded.writeTo(writer);
        if (scope.schemaUrl) writer.stringField(3, scope.schemaUrl);
        writer.finishMessage(scopeSpans);
      }
      if (resource.schemaUrl) writer.stringField(3, resource.schemaUrl);
      writer.finishMessage(resourceSpans);
    }
    return writer.takeBytes();
  }
}

/** the encoded spans of one resource and scope, off the JS heap (an ArrayBuffer's bytes are not copied by the scavenger) */
class EncodedSpans {
  private bytes = new Uint8Array(16 * 1024);
  length = 0;

  /** false when the buffer grew past what is worth keeping for the next batch */
  clear(): boolean {
    this.length = 0;
    return this.bytes.length <= KEPT_BYTES;
  }

  append(writer: ProtoWriter): number {
    const added = writer.pos;
    if (this.length + added > this.bytes.length) {
      const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + added));
      next.set(this.bytes.subarray(0, this.length));
      this.bytes = next;
    }
    writer.copyTo(this.bytes, this.length);
    this.length += added;
    return added;
  }

  writeTo(writer: ProtoWriter): void {
    writer.raw(this.bytes.subarray(0, this.length));
  }
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

// SpanFlags: the low byte is the W3C trace flags; bit 8 says whether bit 9 (is the parent remote) is known
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;

function writeScope(writer: ProtoWriter, scope: InstrumentationScope): void {
  writer.tag(1, LENGTH_DELIMITED); // ScopeSpans.scope
  const start = writer.startMessage();
  writer.stringField(1, scope.name);
  if (scope.version) writer.stringField(2, scope.version);
  const scoped = scope as { attributes?: Attributes; droppedAttributesCount?: number };
  if (scoped.attributes) writeAttributes(writer, scoped.attributes, 3);
  if (scoped.droppedAttributesCount) writer.uint32Field(4, scoped.droppedAttributesCount);
  writer.finishMessage(start);
}

function writeResource(writer: ProtoWriter, resource: Resource): void {
  writer.tag(1, LENGTH_DELIMITED); // ResourceSpans.resource
  const start = writer.startMessage();
  if (resource.attributes) writeAttributes(writer, resource.attributes, 1);
  writer.uint32Field(2, 0); // dropped_attributes_count, always written
  writer.finishMessage(start);
}

function writeSpan(writer: ProtoWriter, span: ReadableSpan): void {
  const start = writer.startMessage();
  const context = span.spanContext();
  writer.hexBytesField(1, context.traceId);
  writer.hexBytesField(2, context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) writer.stringField(3, traceState);
  const parentSpanId = span.parentSpanContext?.spanId;
  if (parentSpanId) writer.hexBytesField(4, parentSpanId);
  writer.stringField(5, span.name);
  // the API's kinds start at INTERNAL = 0; the protocol's at SPAN_KIND_UNSPECIFIED = 0
  if (span.kind != null) writer.uint32Field(6, span.kind + 1);
  writer.tag(7, FIXED64);
  writer.hrTime(span.startTime);
  writer.tag(8, FIXED64);
  writer.hrTime(span.endTime);
  if (span.attributes) writeAttributes(writer, span.attributes, 9);
  writer.uint32Field(10, span.droppedAttributesCount);
  for (const event of span.events) writeEvent(writer, event);
  writer.uint32Field(12, span.droppedEventsCount);
  for (const link of span.links) writeLink(writer, link);
  writer.uint32Field(14, span.droppedLinksCount);
  writer.tag(15, LENGTH_DELIMITED); // status
  const status = writer.startMessage();
  if (span.status.message) writer.stringField(2, span.status.message);
  writer.uint32Field(3, span.status.code);
  writer.finishMessage(status);
  writer.tag(16, FIXED32);
  writer.fixed32(spanFlags(context.traceFlags, span.parentSpanContext?.isRemote));
  writer.finishMessage(start);
}

function spanFlags(traceFlags: number, remote: boolean | undefined): number {
  return (traceFlags & 0xff) | FLAGS_HAS_IS_REMOTE | (remote ? FLAGS_IS_REMOTE : 0);
}

function writeEvent(writer: ProtoWriter, event: TimedEvent): void {
  writer.tag(11, LENGTH_DELIMITED);
  const start = writer.startMessage();
  writer.tag(1, FIXED64);
  writer.hrTime(event.time);
  writer.stringField(2, event.name);
  if (event.attributes) writeAttributes(writer, event.attributes, 3);
  writer.uint32Field(4, event.droppedAttributesCount || 0);
  writer.finishMessage(start);
}

function writeLink(writer: ProtoWriter, link: Link & { droppedAttributesCount?: number }): void {
  writer.tag(13, LENGTH_DELIMITED);
  const start = writer.startMessage();
  const context: SpanContext = link.context;
  writer.hexBytesField(1, context.traceId);
  writer.hexBytesField(2, context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) writer.stringField(3, traceState);
  if (link.attributes) writeAttributes(writer, link.attributes, 4);
  writer.uint32Field(5, link.droppedAttributesCount || 0);
  writer.tag(6, FIXED32);
  writer.fixed32(spanFlags(context.traceFlags, context.isRemote));
  writer.finishMessage(start);
}

/** repeated KeyValue */
function writeAttributes(writer: ProtoWriter, attributes: Attributes, field: number): void {
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    writer.tag(field, LENGTH_DELIMITED);
    writeKeyValue(writer, key, attributes[key]);
  }
}

function writeKeyValue(writer: ProtoWriter, key: string, value: unknown): void {
  const start = writer.startMessage();
  writer.stringField(1, key);
  writer.tag(2, LENGTH_DELIMITED);
  const valueStart = writer.startMessage();
  writeAnyValue(writer, value);
  writer.finishMessage(valueStart);
  writer.finishMessage(start);
}

const INT64_MIN = -(2 ** 63);
const INT64_END = 2 ** 63;

/** AnyValue; a value of another type (undefined, a function) leaves it empty, as the SDK's encoder does */
function writeAnyValue(writer: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      writer.stringField(1, value);
      return;
    case 'boolean':
      writer.tag(2, VARINT);
      writer.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= INT64_MIN && value < INT64_END) {
        writer.tag(3, VARINT);
        writer.varint(value);
      } else {
        writer.tag(4, FIXED64);
        writer.double(value);
      }
      return;
  }
  if (value instanceof Uint8Array) {
    writer.tag(7, LENGTH_DELIMITED);
    writer.bytes(value);
  } else if (Array.isArray(value)) {
    writer.tag(5, LENGTH_DELIMITED);
    const start = writer.startMessage();
    for (const item of value as unknown[]) {
      writer.tag(1, LENGTH_DELIMITED);
      const itemStart = writer.startMessage();
      writeAnyValue(writer, item);
      writer.finishMessage(itemStart);
    }
    writer.finishMessage(start);
  } else if (typeof value === 'object' && value !== null) {
    writer.tag(6, LENGTH_DELIMITED); // KeyValueList
    const start = writer.startMessage();
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      writer.tag(1, LENGTH_DELIMITED);
      writeKeyValue(writer, key, (value as Record<string, unknown>)[key]);
    }
    writer.finishMessage(start);
  }
}

const INITIAL_BYTES = 256 * 1024;
/** a buffer grown past this by one huge batch is not kept for the next */
const KEPT_BYTES = 4 * 1024 * 1024;
let writer: ProtoWriter | undefined;

function sharedWriter(): ProtoWriter {
  // one encode runs at a time: encoding is synchronous and the bytes are copied out at its end
  writer ??= new ProtoWriter();
  writer.reset();
  return writer;
}

class ProtoWriter {
  private buffer = new Uint8Array(INITIAL_BYTES);
  private view = new DataView(this.buffer.buffer);
  private readonly encoder = new TextEncoder();
  pos = 0;

  reset(): void {
    this.pos = 0;
    if (this.buffer.length > KEPT_BYTES) this.resize(INITIAL_BYTES);
  }

  /** a copy of what was written: the buffer itself is reused by the next encode */
  takeBytes(): Uint8Array {
    return this.buffer.slice(0, this.pos);
  }

  /** appends bytes as they are */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** copies what was written so far into `target` at `offset` */
  copyTo(target: Uint8Array, offset: number): void {
    target.set(this.buffer.subarray(0, this.pos), offset);
  }

  tag(field: number, wireType: number): void {
    this.varint32((field << 3) | wireType);
  }

  uint32Field(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  stringField(field: number, value: string): void {
    this.tag(field, LENGTH_DELIMITED);
    this.string(value);
  }

  /** an id (trace or span) given in hex, written as the bytes it spells; an odd last digit is left out */
  hexBytesField(field: number, hex: string): void {
    this.tag(field, LENGTH_DELIMITED);
    const length = hex.length >>> 1;
    this.varint32(length);
    this.reserve(length);
    const buffer = this.buffer;
    let pos = this.pos;
    for (let i = 0; i < 2 * length; i += 2) buffer[pos++] = (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1));
    this.pos = pos;
  }

  /** the start of a nested message: one length byte is reserved, the common case */
  startMessage(): number {
    this.reserve(1);
    return this.pos++;
  }

  /** writes the length of the message begun at `start`, moving its body when the length needs more than one byte */
  finishMessage(start: number): void {
    const length = this.pos - start - 1;
    if (length < 0x80) {
      this.buffer[start] = length;
      return;
    }
    const size = varintSize(length);
    this.reserve(size - 1);
    this.buffer.copyWithin(start + size, start + 1, this.pos);
    this.pos += size - 1;
    let at = start;
    let v = length;
    while (v > 0x7f) {
      this.buffer[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buffer[at] = v;
  }

  varint32(value: number): void {
    this.reserve(5);
    const buffer = this.buffer;
    let v = value >>> 0;
    while (v > 0x7f) {
      buffer[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buffer[this.pos++] = v;
  }

  /** an int64 varint of any integer in range (negative ones in two's complement, ten bytes) */
  varint(value: number): void {
    if (value >= 0 && value <= 0xffffffff) {
      this.varint32(value);
      return;
    }
    this.reserve(10);
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = Math.floor(value / 0x100000000) >>> 0;
    } else {
      const magnitude = -value;
      low = ~(magnitude >>> 0) >>> 0;
      high = ~(Math.floor(magnitude / 0x100000000) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    const buffer = this.buffer;
    while (high > 0 || low > 0x7f) {
      buffer[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buffer[this.pos++] = low;
  }

  fixed32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
  }

  /** [seconds, nanoseconds] as fixed64 nanoseconds since the epoch, exact past 2^53 */
  hrTime(time: HrTime): void {
    const [seconds, nanos] = time;
    // seconds × 1e9 = (high16 × 2^16 + low16) × 1e9; each product stays below 2^53
    const low16 = seconds % 0x10000;
    const high16 = Math.floor(seconds / 0x10000);
    const fromLow = low16 * 1e9;
    const fromHigh = high16 * 1e9; // to be shifted left by 16 bits
    const sumLow = (fromLow % 0x100000000) + (fromHigh % 0x10000) * 0x10000 + nanos;
    const low = sumLow % 0x100000000;
    const high = Math.floor(fromLow / 0x100000000) + Math.floor(fromHigh / 0x10000) + Math.floor(sumLow / 0x100000000);
    this.reserve(8);
    this.view.setUint32(this.pos, low >>> 0, true);
    this.view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  double(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  bytes(value: Uint8Array): void {
    this.varint32(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.pos);
    this.pos += value.length;
  }

  string(value: string): void {
    const length = value.length;
    // ASCII, the common case, is copied char by char; anything else goes through the UTF-8 encoder
    this.reserve(5 + length);
    const buffer = this.buffer;
    const lengthAt = this.pos;
    const lengthSize = varintSize(length);
    let pos = lengthAt + lengthSize;
    let i = 0;
    for (; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code > 0x7f) break;
      buffer[pos++] = code;
    }
    if (i === length) {
      this.pos = lengthAt;
      this.varint32(length);
      this.pos = pos;
      return;
    }
    const encoded = this.encoder.encode(value);
    this.pos = lengthAt;
    this.bytes(encoded);
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes > this.buffer.length) this.resize(Math.max(this.buffer.length * 2, this.pos + bytes));
  }

  private resize(size: number): void {
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, Math.min(this.pos, size)));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }
}

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

function hexDigit(code: number): number {
  // '0'-'9', 'a'-'f', 'A'-'F'
  return code <= 57 ? code - 48 : code >= 97 ? code - 87 : code - 55;
}
