"""TextEncoder, TextDecoder and structuredClone against their WHATWG behaviour on a few cases."""

import pytest

from runtime.engine import WEB_UNIT, compile_script


def test_text_encoder_writes_utf8_and_replaces_lone_surrogates(run):
    result = run(r"""function main() {
      const e = new TextEncoder();
      return [e.encoding, Array.from(e.encode('a€😀')), Array.from(e.encode('\ud800x')), e.encode().length];
    }""")
    assert result.output == ["utf-8", [0x61, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80], [0xEF, 0xBF, 0xBD, 0x78], 0]


def test_text_decoder_strips_the_bom_and_replaces_maximal_subparts(run):
    result = run(r"""function main() {
      const d = new TextDecoder();
      const bytes = (...b) => new Uint8Array(b);
      return [d.decode(bytes(0xef, 0xbb, 0xbf, 0x61, 0xe2, 0x82, 0xac)), d.decode(bytes(0xf0, 0x9f, 0x98, 0x80)),
              d.decode(bytes(0x61, 0xc3, 0x28, 0xe2, 0x82)), d.decode(bytes(0xed, 0xa0, 0x80)),
              d.decode(bytes(0xf0, 0x80, 0x80)),
              new TextDecoder('utf-8', {ignoreBOM: true}).decode(bytes(0xef, 0xbb, 0xbf)),
              d.decode(new TextEncoder().encode('round ✓ trip').buffer), d.encoding];
    }""")
    assert result.output == ["a€", "😀", "a\ufffd(\ufffd", "\ufffd\ufffd\ufffd", "\ufffd\ufffd\ufffd", "\ufeff",
                             "round ✓ trip", "utf-8"]


@pytest.mark.parametrize(("code", "error"), [
    ("new TextDecoder('utf-8', {fatal: true}).decode(new Uint8Array([0xff]))",
     ["TypeError", "The encoded data was not valid for encoding utf-8"]),
    ("new TextDecoder('latin1')", ["RangeError", "The encoding label provided ('latin1') is invalid."]),
    ("structuredClone({f() {}})", ["DataCloneError", "function f could not be cloned."]),
    ("structuredClone(Symbol('s'))", ["DataCloneError", "Symbol(s) could not be cloned."]),
])
def test_web_global_errors(run, code, error):
    assert run(f"function main() {{ try {{ {code}; }} catch (e) {{ return [e.name, e.message]; }} }}").output == error


def test_structured_clone_copies_deeply_with_cycles_and_types(run):
    result = run("""function main() {
      const a = {d: new Date(0), m: new Map([[1, {x: 1}]]), s: new Set([1]), r: /a/g, t: new Uint8Array([1, 2]),
                 list: [1, {y: 2}], e: new RangeError('r')};
      a.self = a;
      const b = structuredClone(a);
      return [b !== a, b.self === b, b.d.getTime(), b.m.get(1).x, b.m.get(1) !== a.m.get(1), b.s.has(1), b.r.flags,
              Array.from(b.t), b.t.buffer !== a.t.buffer, b.list[1] !== a.list[1], b.list[1].y,
              b.e instanceof RangeError, b.e.message];
    }""")
    assert result.output == [True, True, 0, 1, True, True, "g", [1, 2], True, True, 2, True, "r"]


def test_the_web_globals_are_loaded_only_for_code_that_names_them():
    assert [name for name, _ in compile_script("function main() { return 1; }").modules] == []
    uses = compile_script("function main() { return structuredClone([1]); }")
    assert [name for name, _ in uses.modules] == [WEB_UNIT]
    via_library = compile_script("import {enc} from 'lib';\nexport const main = () => enc('a');",
                                 {"lib": "export const enc = (s) => new TextEncoder().encode(s).length;"})
    assert [name for name, _ in via_library.modules] == [WEB_UNIT, "lib"]
