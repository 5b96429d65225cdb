"""The curated npm packages, imported like any module: lodash and dayjs with its utc plugin."""

from runtime import CompilationCache, Engine, HostRegistry, RunRequest
from runtime.packages import PACKAGES, sources


def test_lodash_default_and_named_imports(run):
    source = ("import _, {groupBy, chunk} from 'lodash';\n"
              "export function main(input) {\n"
              "  return [chunk(input, 2), groupBy(input, n => n % 2 ? 'odd' : 'even'), _.sum(input), _.VERSION];\n}")
    result = run(source, input=[1, 2, 3, 4, 5])
    assert result.ok, result.error
    assert result.output == [[[1, 2], [3, 4], [5]], {"odd": [1, 3, 5], "even": [2, 4]}, 15, "4.18.1"]


def test_lodash_template_cannot_generate_code(run):
    result = run("import _ from 'lodash';\nexport const main = () => _.template('<%= a %>')({a: 1});")
    assert result.error.type == "TypeError" and "code generation from strings is disabled" in result.error.message


def test_dayjs_formats_without_intl(run):
    source = ("import dayjs from 'dayjs';\nimport utc from 'dayjs/plugin/utc';\ndayjs.extend(utc);\n"
              "export function main(iso) {\n"
              "  const d = dayjs.utc(iso);\n"
              "  return [d.format('YYYY-MM-DD HH:mm:ss'), d.add(1, 'month').format('MMM D, YYYY'), d.day(),\n"
              "          dayjs.utc('2026-01-31').diff(dayjs.utc('2026-01-01'), 'day')];\n}")
    result = run(source, input="2026-11-27T10:20:30Z")
    assert result.ok, result.error
    assert result.output == ["2026-11-27 10:20:30", "Dec 27, 2026", 5, 30]


def test_packages_are_shared_and_each_run_evaluates_its_own_copy(run):
    """A run that changes lodash cannot change it for the next run."""
    source = ("import _ from 'lodash';\n"
              "export function main() { const before = _.sum; _.sum = () => -1; return before === _.sum; }")
    assert run(source).output is False
    assert run("import _ from 'lodash';\nexport const main = () => _.sum([1, 2]);").output == 3


def test_every_curated_package_loads():
    assert set(sources()) == set(PACKAGES)


def test_a_context_prepared_with_its_packages_runs_the_script_without_loading_them_again():
    cache = CompilationCache()
    source = "import _ from 'lodash';\nexport const main = (xs) => _.uniq(xs);"
    compiled = cache.compile(source)
    assert compiled.preloadable == ("lodash",)
    engine = Engine(preload=compiled.preloadable)
    assert engine.preloaded == {"lodash"}
    request = RunRequest(source=source, tenant_id="t", input=[1, 1, 2])
    assert engine.run(request, compiled, HostRegistry()).output == [1, 2]
    plain = cache.compile("function main() { return typeof _; }")
    assert plain.preloadable == ()
    assert Engine(preload=("lodash",)).run(RunRequest(source=plain.source, tenant_id="t"), plain,
                                            HostRegistry()).output == "undefined"
