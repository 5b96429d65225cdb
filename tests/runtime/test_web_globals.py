"""TextEncoder, TextDecoder, structuredClone, URL and URLSearchParams against their WHATWG behaviour on a few cases."""

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
    url = compile_script("function main() { return new URLSearchParams('a=1').get('a'); }")
    assert [name for name, _ in url.modules] == ["<web:url>"]
    lookalikes = "function main(e) { const cryptoKey = 1; return [e.pageURL, e.$crypto, cryptoKey, e.URL_x]; }"
    assert [name for name, _ in compile_script(lookalikes).modules] == []
    both = compile_script("function main() { return [globalThis.crypto.randomUUID(), new URL('http://h/').href]; }")
    assert [name for name, _ in both.modules] == ["<web:url>", "<web:crypto>"]


def test_url_parses_and_serialises_an_absolute_url(run):
    result = run(r"""function main() {
      const u = new URL('  HTTPS://user:pa ss@EXAMPLE.com:443/a/./b/../c d?x=1 2&y=ü#frag ment ');
      return [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname,
              u.search, u.hash, String(u), JSON.stringify({u}), new URL('http://Example.COM').href,
              new URL('http://h.example:8080/').host, new URL('http://0x7f.1/').hostname,
              new URL('http://h.example/%2e%2E/a').pathname];
    }""")
    assert result.output == [
        "https://user:pa%20ss@example.com/a/c%20d?x=1%202&y=%C3%BC#frag%20ment", "https://example.com", "https:",
        "user", "pa%20ss", "example.com", "example.com", "", "/a/c%20d", "?x=1%202&y=%C3%BC", "#frag%20ment",
        "https://user:pa%20ss@example.com/a/c%20d?x=1%202&y=%C3%BC#frag%20ment",
        '{"u":"https://user:pa%20ss@example.com/a/c%20d?x=1%202&y=%C3%BC#frag%20ment"}',
        "http://example.com/", "h.example:8080", "127.0.0.1", "/a"]


def test_url_resolves_relative_references_against_a_base(run):
    result = run(r"""function main() {
      const base = 'http://h.example:8080/a/b/c?z#f';
      return ['../d?q#h', 'g', './', '//other.org/x', '/root', '?n=1', '#top', '', 'https://abs.example/p']
        .map((ref) => new URL(ref, base).href)
        .concat([new URL('x', new URL('https://h.example/dir/')).href, new URL('mailto:a@b.example').pathname,
                 new URL('mailto:a@b.example').origin, new URL('file:///tmp/x.txt').pathname]);
    }""")
    assert result.output == [
        "http://h.example:8080/a/d?q#h", "http://h.example:8080/a/b/g", "http://h.example:8080/a/b/",
        "http://other.org/x", "http://h.example:8080/root", "http://h.example:8080/a/b/c?n=1",
        "http://h.example:8080/a/b/c?z#top", "http://h.example:8080/a/b/c?z", "https://abs.example/p",
        "https://h.example/dir/x", "a@b.example", "null", "/tmp/x.txt"]


@pytest.mark.parametrize("args", ["'bad'", "'http://'", "'http://h.example:99999/'", "'http://a b.example/'",
                                  "'/relative'", "'x', 'also-not-absolute'", "'http://1.2.3.256/'"])
def test_url_refuses_what_does_not_parse_with_a_type_error(run, args):
    result = run(f"""function main() {{
      try {{ new URL({args}); return 'parsed'; }} catch (e) {{ return [e instanceof TypeError, URL.canParse({args})]; }}
    }}""")
    assert result.output == [True, False]


def test_url_search_params_read_and_write_the_query_with_form_encoding(run):
    result = run(r"""function main() {
      const u = new URL('https://h.example/p?a=1&b=2&a=3#h');
      const p = u.searchParams;
      const read = [p.get('a'), p.getAll('a'), p.get('none'), p.has('b'), p.size];
      p.append('c', 'x y&z~');
      p.set('a', 'é');
      p.delete('b');
      const parsed = new URLSearchParams('?q=a+b%20c&e=%E2%82%AC&x&bad=%zz&&');
      const sorted = new URLSearchParams('b=2&a=1&b=1');
      sorted.sort();
      return [read, u.search, u.href, p.toString(), [...parsed], parsed.get('q'),
              new URLSearchParams({k: 'v/w', n: 1}).toString(),
              new URLSearchParams([['a', '1'], ['a', '2']]).getAll('a'),
              sorted.toString()];
    }""")
    assert result.output == [
        ["1", ["1", "3"], None, True, 3], "?a=%C3%A9&c=x+y%26z%7E", "https://h.example/p?a=%C3%A9&c=x+y%26z%7E#h",
        "a=%C3%A9&c=x+y%26z%7E", [["q", "a b c"], ["e", "€"], ["x", ""], ["bad", "%zz"]], "a b c",
        "k=v%2Fw&n=1", ["1", "2"], "a=1&b=2&b=1"]


def test_setting_search_on_a_url_updates_its_search_params(run):
    result = run("""function main() {
      const u = new URL('http://h.example/?a=1');
      u.search = '?b=2 3';
      u.hash = 'x';
      return [u.href, u.searchParams.get('b')];
    }""")
    assert result.output == ["http://h.example/?b=2%203#x", "2 3"]


def test_url_search_params_decode_invalid_utf8_with_one_replacement_per_maximal_subpart(run):
    result = run("""function main() {
      const p = new URLSearchParams('r=%E2%82x%C0%ED%A0%80&q=%F0%9F%98%80');
      return [p.get('r'), p.get('q')];
    }""")
    assert result.output == ["\ufffdx\ufffd\ufffd\ufffd\ufffd", "😀"]


# WHATWG URL test cases (web-platform-tests url/resources/urltestdata.json) for IDNA hosts: input -> href or None.
IDNA_CASES = {
    "http://Bücher.example/": "http://xn--bcher-kva.example/",
    "https://faß.ExAmPlE/": "https://xn--fa-hia.example/",  # non-transitional: ß stays
    "http://ＧＯ.com": "http://go.com/",
    "http://你好你好": "http://xn--6qqa088eba/",
    "http://www.foo。bar.com": "http://www.foo.bar.com/",
    "http://GOO\u200b\u2060\ufeffgoo.com": "http://googoo.com/",
    "http://%E2%98%83": "http://xn--n3h/",
    "http://XN--BCHER-KVA.example": "http://xn--bcher-kva.example/",
    "http://💩.test": "http://xn--ls8h.test/",
    "http://\ufdd0zyx.com": None,
    "http://％４１.com": None,
    "http://%ef%bc%85%ef%bc%94%ef%bc%91.com": None,
    "http://a.b.c.xn--pokxncvks": None,
    "http://xn--.com": None,
    "http://\u0301a.example": None,
}


def test_url_maps_non_ascii_hosts_to_punycode_as_uts46_says(run):
    result = run("function main(cases) {\n"
                 "  return cases.map(c => { try { return new URL(c).href } catch (e) { return e.name } });\n}",
                 input=list(IDNA_CASES))
    assert result.output == [href or "TypeError" for href in IDNA_CASES.values()]


def test_url_punycode_agrees_with_pythons_codec(run):
    labels = ["bücher", "faß", "你好你好", "ασ", "☃", "💩", "mañana", "académie-française", "उदाहरण", "пример"]
    result = run("function main(labels) { return labels.map(l => new URL('http://' + l + '.test/').hostname) }",
                 input=labels)
    assert result.output == [f"xn--{label.encode('punycode').decode()}.test" for label in labels]
