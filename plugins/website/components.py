"""Page components: what a page tree is made of.

A :class:`Component` pairs a msgspec props struct with a render function. The built-in
ones are below; other plugins add theirs (a product card, a token gate, the clone's chat
bubble) through this plugin's ``register_components`` hook. The page tree is validated
against the registered components on every save, so what is stored always renders.
"""

from __future__ import annotations

import builtins
import inspect
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
import nh3
from markupsafe import Markup
from msgspec import Meta

import sdk
from plugins.website.types import MAX_DEPTH, MAX_NODES, URL_SCHEMES, Node, check_link

# -- what a render function gets ---------------------------------------------------------


@dataclass
class RenderContext:
    """What a component's render function may use besides its props.

    ``editing`` is true on the builder's canvas: components then mark inline-editable
    elements with :meth:`inline` so the canvas can make them editable. ``media`` maps a
    media asset id to its public URL and size."""

    site_url: str = ""
    editing: bool = False
    media: dict[str, MediaRef] = field(default_factory=dict)
    language: str = "en"
    #: Every picture rendered so far, in document order: the first ones are likely above
    #: the fold (loaded at once), and the first is the page's social image if it names
    #: none.
    image_urls: list[str] = field(default_factory=list)

    def inline(self, prop: str, rich: bool = False) -> Markup:
        if not self.editing:
            return Markup("")
        kind = "rich" if rich else "text"
        return Markup(' data-inline="{}" data-inline-kind="{}"').format(prop, kind)


@dataclass(frozen=True)
class MediaRef:
    url: str
    width: int | None = None
    height: int | None = None
    alt: str = ""
    #: Narrower copies served at ``<url>?w=<width>`` (for ``srcset``).
    widths: tuple[int, ...] = ()


RenderFunction = Callable[[Any, Markup, RenderContext], Markup]


@dataclass(frozen=True)
class Component:
    """A component type. ``props`` is its msgspec struct (every field needs a default, so
    a component dropped from the library is valid at once); ``render(props, children,
    ctx)`` returns its HTML (escape everything that came from a person); ``container``
    components hold children; ``inline`` names the string props edited in place on the
    canvas; ``publish_check(props)`` returns problems that block publishing (an image
    without alt text), empty when ready; ``publish_check_in_group(props, stores)`` does
    the same for problems only the group's things show (a clone chat naming another
    group's clone), with the stores of the publishing transaction (a plain function or a
    coroutine function)."""

    type: str
    # builtins.type: the field above shadows the builtin in the class body
    props: builtins.type[msgspec.Struct]
    render: RenderFunction
    label: str
    description: str = ""
    category: str = "basic"
    container: bool = False
    inline: tuple[str, ...] = ()
    publish_check: Callable[[Any], list[str]] | None = None
    publish_check_in_group: (
        Callable[[Any, sdk.ScopedOntology], list[str] | Awaitable[list[str]]] | None
    ) = None


# -- shared validation -------------------------------------------------------------------

#: Tags and attributes rich text keeps; everything else is removed on save.
RICH_TAGS = frozenset("p br strong b em i u s a ul ol li blockquote code pre h3 h4 span".split())
RICH_ATTRIBUTES = {"a": {"href", "title"}}


#: Deepest nesting of elements rich text may have. The sanitiser's HTML5 tree builder
#: slows with the square of nesting depth (each open element is rescanned), so input is
#: refused past this before it is parsed; editors produce a handful of levels.
MAX_RICH_DEPTH = 100
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]{0,20})")
#: Elements that never nest (void) or that the next of their kind closes (``<p><p>``).
_FLAT_TAGS = frozenset("br hr img wbr input meta link p li dt dd option tr td th".split())


def nesting_depth(html: str) -> int:
    """How deep ``html``'s elements nest, counted in one pass over its tags (an unclosed
    element counts as open to the end)."""
    depth = deepest = 0
    for match in _TAG.finditer(html):
        if match.group(2).lower() in _FLAT_TAGS:
            continue
        depth = max(0, depth - 1) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
    return deepest


def sanitize_rich_text(html: str) -> str:
    """Allow-list HTML sanitising (ammonia, via nh3): scripts, event handlers, styles and
    unsafe URLs are dropped; links get ``rel="noopener noreferrer"``. Nesting deeper than
    :data:`MAX_RICH_DEPTH` is refused (``ValueError``)."""
    if (depth := nesting_depth(html)) > MAX_RICH_DEPTH:
        raise ValueError(
            f"the rich text nests elements {depth} deep, over {MAX_RICH_DEPTH}; "
            "close the tags you open"
        )
    return nh3.clean(
        html,
        tags=RICH_TAGS,
        attributes=RICH_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


# -- built-in components -----------------------------------------------------------------

Text200 = Annotated[str, Meta(max_length=200)]
Text500 = Annotated[str, Meta(max_length=500)]


class HeadingProps(msgspec.Struct, forbid_unknown_fields=True):
    text: Text500 = "Heading"
    level: Annotated[int, Meta(ge=1, le=6)] = 2
    align: Literal["start", "center", "end"] = "start"


def render_heading(p: HeadingProps, children: Markup, ctx: RenderContext) -> Markup:
    return Markup('<h{0} class="cp-heading cp-align-{1}"{2}>{3}</h{0}>').format(
        p.level, p.align, ctx.inline("text"), p.text
    )


#: Longest rich text a component holds, as sent and as kept.
MAX_RICH_TEXT = 50_000


class TextProps(msgspec.Struct, forbid_unknown_fields=True):
    #: Rich text; sanitised on save.
    html: Annotated[str, Meta(max_length=MAX_RICH_TEXT)] = "<p>Write something here.</p>"
    align: Literal["start", "center", "end"] = "start"

    def __post_init__(self) -> None:
        self.html = sanitize_rich_text(self.html)
        # Cleaning closes what was left open, so it can grow the text ("<ul>" * n more
        # than doubles). Kept over the limit, it would fail the page's every later save.
        if len(self.html) > MAX_RICH_TEXT:
            raise ValueError(
                f"the rich text is {len(self.html):,} characters once cleaned (tags closed), "
                f"over {MAX_RICH_TEXT:,}; nest fewer elements"
            )


def render_text(p: TextProps, children: Markup, ctx: RenderContext) -> Markup:
    return Markup('<div class="cp-text cp-align-{}"{}>{}</div>').format(
        p.align, ctx.inline("html", rich=True), Markup(p.html)
    )


class ButtonProps(msgspec.Struct, forbid_unknown_fields=True):
    label: Text200 = "Learn more"
    href: Annotated[str, Meta(max_length=2000)] = "#"
    style: Literal["primary", "secondary"] = "primary"
    new_tab: bool = False

    def __post_init__(self) -> None:
        self.href = check_link(self.href, "href")


def render_button(p: ButtonProps, children: Markup, ctx: RenderContext) -> Markup:
    extra = Markup(' target="_blank" rel="noopener noreferrer"') if p.new_tab else Markup("")
    return Markup('<a class="cp-button cp-button-{}" href="{}"{}{}>{}</a>').format(
        p.style, p.href or "#", extra, ctx.inline("label"), p.label
    )


class ImageProps(msgspec.Struct, forbid_unknown_fields=True):
    """An uploaded asset (``asset_id``) or an image URL (``src``). ``alt`` is required to
    publish unless the image is ``decorative``."""

    asset_id: Annotated[str, Meta(max_length=64)] = ""
    src: Annotated[str, Meta(max_length=2000)] = ""
    alt: Text500 = ""
    decorative: bool = False
    caption: Text500 = ""
    width: Literal["auto", "full"] = "auto"

    def __post_init__(self) -> None:
        if self.src:
            self.src = check_link(self.src, "src")


def check_image(p: ImageProps) -> list[str]:
    problems = []
    if not p.asset_id and not p.src:
        problems.append("an image has no picture: upload one or give its URL")
    if not p.decorative and not p.alt.strip():
        problems.append(
            "an image has no alt text: describe it, or mark it decorative if it adds nothing"
        )
    return problems


#: The widest a picture is shown: the widest section content (72rem).
_MAX_SHOWN = "72rem"


def _srcset(ref: MediaRef, full: bool) -> Markup:
    """``srcset`` of a picture's narrower copies and itself, and ``sizes``: the viewport's
    width up to the content's, and never wider than the picture unless it fills it."""
    candidates = [f"{ref.url}?w={w} {w}w" for w in ref.widths] + [f"{ref.url} {ref.width}w"]
    shown = f"min(100vw, {_MAX_SHOWN})" if full else f"min(100vw, {_MAX_SHOWN}, {ref.width}px)"
    return Markup(' srcset="{}" sizes="{}"').format(", ".join(candidates), shown)


#: How many of a page's first pictures load at once; later ones wait until they near the
#: viewport (``loading="lazy"``), which would only delay a picture that is already in it.
EAGER_IMAGES = 2


def render_image(p: ImageProps, children: Markup, ctx: RenderContext) -> Markup:
    ref = ctx.media.get(p.asset_id) if p.asset_id else None
    src = ref.url if ref else p.src
    if not src:
        if ctx.editing:
            return Markup('<div class="cp-image-empty">Image: choose a picture</div>')
        return Markup("")
    size = Markup("")
    if ref and ref.width and ref.height:
        size = Markup(' width="{}" height="{}"').format(ref.width, ref.height)
        if ref.widths:
            size += _srcset(ref, p.width == "full")
    alt = "" if p.decorative else p.alt
    position = len(ctx.image_urls)
    ctx.image_urls.append(src)
    if position == 0:
        # Most likely the page's largest above-the-fold picture: fetched first.
        loading = Markup(' fetchpriority="high"')
    elif position < EAGER_IMAGES:
        loading = Markup("")
    else:
        loading = Markup(' loading="lazy"')
    img = Markup('<img src="{}" alt="{}"{}{} decoding="async">').format(src, alt, size, loading)
    caption = Markup("<figcaption>{}</figcaption>").format(p.caption) if p.caption else ""
    return Markup('<figure class="cp-image cp-image-{}">{}{}</figure>').format(
        p.width, img, caption
    )


class SectionProps(msgspec.Struct, forbid_unknown_fields=True):
    background: Literal["default", "muted", "accent"] = "default"
    padding: Literal["small", "medium", "large"] = "medium"
    width: Literal["narrow", "normal", "wide"] = "normal"
    #: Names the section for screen readers (makes it a landmark region).
    label: Text200 = ""


def render_section(p: SectionProps, children: Markup, ctx: RenderContext) -> Markup:
    label = Markup(' aria-label="{}"').format(p.label) if p.label else Markup("")
    return Markup(
        '<section class="cp-section cp-bg-{} cp-pad-{} cp-width-{}"{}>'
        '<div class="cp-section-inner">{}</div></section>'
    ).format(p.background, p.padding, p.width, label, children)


class ColumnsProps(msgspec.Struct, forbid_unknown_fields=True):
    """Lays its children out side by side (stacked on narrow screens)."""

    columns: Annotated[int, Meta(ge=2, le=4)] = 2
    gap: Literal["small", "medium", "large"] = "medium"


def render_columns(p: ColumnsProps, children: Markup, ctx: RenderContext) -> Markup:
    return Markup('<div class="cp-columns cp-cols-{} cp-gap-{}">{}</div>').format(
        p.columns, p.gap, children
    )


class EmbedProps(msgspec.Struct, forbid_unknown_fields=True):
    """Another page in a sandboxed frame: a video, a map, a form. ``title`` is required to
    publish (screen readers announce it)."""

    url: Annotated[str, Meta(max_length=2000)] = ""
    title: Text200 = ""
    height: Annotated[int, Meta(ge=100, le=2000)] = 400

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith("https://"):
            raise ValueError("an embed's url must start with https://")
        if self.url:
            check_link(self.url, "url")


def check_embed(p: EmbedProps) -> list[str]:
    problems = []
    if not p.url:
        problems.append("an embed has no URL")
    if not p.title.strip():
        problems.append("an embed has no title: screen readers announce it")
    return problems


def render_embed(p: EmbedProps, children: Markup, ctx: RenderContext) -> Markup:
    if not p.url:
        if ctx.editing:
            return Markup('<div class="cp-embed-empty">Embed: add a URL</div>')
        return Markup("")
    return Markup(
        '<div class="cp-embed"><iframe src="{}" title="{}" height="{}" loading="lazy" '
        'sandbox="allow-scripts allow-same-origin allow-popups allow-forms" '
        'referrerpolicy="strict-origin-when-cross-origin"></iframe></div>'
    ).format(p.url, p.title, p.height)


BUILTIN_COMPONENTS = (
    Component(
        "heading",
        HeadingProps,
        render_heading,
        "Heading",
        "A title for the page or a section",
        "text",
        inline=("text",),
    ),
    Component(
        "text",
        TextProps,
        render_text,
        "Text",
        "Paragraphs with bold, italic, links and lists",
        "text",
        inline=("html",),
    ),
    Component(
        "button",
        ButtonProps,
        render_button,
        "Button",
        "A link styled as a button",
        "basic",
        inline=("label",),
    ),
    Component(
        "image",
        ImageProps,
        render_image,
        "Image",
        "An uploaded picture or an image URL, with alt text",
        "media",
        publish_check=check_image,
    ),
    Component(
        "section",
        SectionProps,
        render_section,
        "Section",
        "A full-width band that groups components",
        "layout",
        container=True,
    ),
    Component(
        "columns",
        ColumnsProps,
        render_columns,
        "Columns",
        "Places its components side by side",
        "layout",
        container=True,
    ),
    Component(
        "embed",
        EmbedProps,
        render_embed,
        "Embed",
        "A video, map or form from another site",
        "media",
        publish_check=check_embed,
    ),
)


# -- the registry -------------------------------------------------------------------------


@dataclass
class _Registered:
    component: Component
    plugin: str


def _refuse_non_component(plugin: str, component: object) -> None:
    if not isinstance(component, Component):
        raise sdk.PlatformError(
            f"plugin {plugin!r}: register_components must return Component objects"
        )


class ComponentRegistry:
    """Every component of the enabled plugins; validates and walks page trees."""

    def __init__(self) -> None:
        self._by_type: dict[str, _Registered] = {}

    @classmethod
    def collect(cls, platform: sdk.Platform) -> ComponentRegistry:
        """The components every enabled plugin registers; start-up stops on one that is
        not a :class:`Component` and on a type two plugins register, naming them."""
        found = platform.plugins.collect_unique(
            "register_components",
            key=lambda component: component.type,
            what="component",
            error=ValueError,
            check=_refuse_non_component,
        )
        registry = cls()
        for name, component in found.items():
            registry.add(component, found.owner(name))
        return registry

    def add(self, component: Component, plugin: str) -> None:
        """Keep ``plugin``'s ``component``, replacing one of the same type (:meth:`collect`
        refuses such clashes between plugins)."""
        self._by_type[component.type] = _Registered(component, plugin)

    def __iter__(self) -> Iterator[tuple[Component, str]]:
        return ((r.component, r.plugin) for r in self._by_type.values())

    def __contains__(self, type: str) -> bool:
        return type in self._by_type

    def get(self, type: str, field: str = "type") -> Component:
        found = self._by_type.get(type)
        if found is None:
            raise sdk.ValidationFailed(
                f"unknown component {type!r}; available: {', '.join(sorted(self._by_type))}",
                field=field,
            )
        return found.component

    def defaults(self, type: str) -> dict[str, Any]:
        component = self.get(type)
        result: dict[str, Any] = msgspec.to_builtins(component.props())
        return result

    def validate_props(self, type: str, props: dict[str, Any], where: str) -> dict[str, Any]:
        component = self.get(type)
        return sdk.validate_object(component.props, props, where)

    def validate_tree(self, tree: Iterable[Node], where: str = "tree") -> list[Node]:
        """Check every node (known type, valid props, children only in containers, unique
        ids, size and depth limits) and return the tree with normalised props."""
        seen: set[str] = set()
        count = 0

        def walk(nodes: Iterable[Node], path: str, depth: int) -> list[Node]:
            nonlocal count
            if depth > MAX_DEPTH:
                raise sdk.ValidationFailed(f"components nest at most {MAX_DEPTH} deep", field=path)
            result = []
            for index, node in enumerate(nodes):
                at = f"{path}[{index}]"
                count += 1
                if count > MAX_NODES:
                    raise sdk.ValidationFailed(
                        f"a page holds at most {MAX_NODES} components", field=where
                    )
                if node.id in seen:
                    raise sdk.ValidationFailed(
                        f"component id {node.id!r} is used twice", field=f"{at}.id"
                    )
                seen.add(node.id)
                component = self.get(node.type, field=f"{at}.type")
                props = self.validate_props(node.type, node.props, f"{at}.props")
                if node.children and not component.container:
                    raise sdk.ValidationFailed(
                        f"a {node.type} cannot hold other components", field=f"{at}.children"
                    )
                children = walk(node.children, f"{at}.children", depth + 1)
                result.append(Node(id=node.id, type=node.type, props=props, children=children))
            return result

        return walk(tree, where, 1)

    async def publish_problems(
        self, tree: Iterable[Node], stores: sdk.ScopedOntology
    ) -> list[dict[str, str]]:
        """What stops the tree from being published in ``stores``' group, per node (empty:
        ready)."""
        problems: list[dict[str, str]] = []
        for node in walk_tree(tree):
            component = self.get(node.type)
            if component.publish_check is None and component.publish_check_in_group is None:
                continue
            props = msgspec.convert(node.props, component.props)
            messages = list(component.publish_check(props)) if component.publish_check else []
            if component.publish_check_in_group is not None:
                found = component.publish_check_in_group(props, stores)
                messages += await found if inspect.isawaitable(found) else found
            for message in messages:
                problems.append({"node_id": node.id, "component": node.type, "problem": message})
        return problems

    def render(self, tree: Iterable[Node], ctx: RenderContext) -> Markup:
        """The HTML of a (validated) tree. On the canvas each node is wrapped in an element
        carrying its id and type, for selection, drag and drop and inline editing."""
        parts = []
        for node in tree:
            component = self.get(node.type)
            props = msgspec.convert(node.props, component.props)
            children = self.render(node.children, ctx) if component.container else Markup("")
            html = component.render(props, children, ctx)
            if ctx.editing:
                html = Markup(
                    '<div class="cp-node{}" data-node-id="{}" data-type="{}" tabindex="0" '
                    'role="group" aria-label="{}">{}</div>'
                ).format(
                    " cp-container" if component.container else "",
                    node.id,
                    node.type,
                    component.label,
                    html,
                )
            parts.append(html)
        return Markup("").join(parts)


def walk_tree(tree: Iterable[Node]) -> Iterator[Node]:
    for node in tree:
        yield node
        yield from walk_tree(node.children)


def new_node_id() -> str:
    return secrets.token_urlsafe(6).replace("-", "x").replace("_", "y")
