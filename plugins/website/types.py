"""The website plugin's types: thing properties, connection metadata, event payloads, and
the request/response bodies of its API. Every payload is a msgspec struct."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

#: Slugs of sites and pages: lower-case letters, digits and single hyphens.
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
SLUG_RE = re.compile(SLUG_PATTERN)
#: A host name as a custom domain (at least one dot, no scheme, port or path).
DOMAIN_PATTERN = (
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
DOMAIN_RE = re.compile(DOMAIN_PATTERN)

Slug = Annotated[str, Meta(pattern=SLUG_PATTERN, max_length=63)]
Domain = Annotated[str, Meta(pattern=DOMAIN_PATTERN, max_length=253)]
DomainToken = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, Meta(max_length=300)]
LongText = Annotated[str, Meta(max_length=2000)]
#: An absolute URL or a path on the site (``check_public_url``).
Url = Annotated[str, Meta(max_length=2000)]
#: A BCP 47 language tag such as ``en`` or ``pt-BR``.
Language = Annotated[str, Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)]
ColorMode = Literal["auto", "light", "dark"]
#: A component's id on its page.
NodeId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,40}$", max_length=40)]
#: A theme's name (the registered themes are listed by ``GET .../themes``).
ThemeName = Annotated[str, Meta(min_length=1, max_length=100)]
PageStatus = Literal["draft", "published"]

#: Most components on one page, and deepest nesting (Section > Columns > ...).
MAX_NODES = 500
MAX_DEPTH = 6


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


# -- thing properties -------------------------------------------------------------------

URL_SCHEMES = {"http", "https", "mailto", "tel"}


def check_link(value: str, what: str = "link") -> str:
    """A link a visitor may follow: http(s), mailto, tel, a site path or an anchor —
    never ``javascript:`` or ``data:``."""
    value = value.strip()
    if not value or (value.startswith(("/", "#")) and not value.startswith("//")):
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in URL_SCHEMES:
        raise ValueError(
            f"{what} must start with https://, http://, mailto:, tel:, / or #; got {value[:60]!r}"
        )
    if parts.scheme.lower() in {"http", "https"} and not parts.netloc:
        raise ValueError(f"{what} {value[:60]!r} has no host")
    return value


def check_public_url(value: str, what: str) -> str:
    """An absolute https (or http) URL, or a path on the site, for metadata that crawlers
    and social networks read; anything else is refused at the field."""
    value = value.strip()
    if value and not (
        value.startswith(("https://", "http://"))
        or (value.startswith("/") and not value.startswith("//"))
    ):
        raise ValueError(f"{what} must be an https:// URL or a path starting with /")
    return value


#: A link a visitor may follow (``check_link`` says the rest: an http(s) URL has a host).
LINK_PATTERN = (
    r"^(?:[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]|[Mm][Aa][Ii][Ll][Tt][Oo]:|[Tt][Ee][Ll]:|/(?!/)|#)"
)
LinkUrl = Annotated[str, Meta(min_length=1, max_length=2000, pattern=LINK_PATTERN)]
#: Most entries a site's menu or footer holds.
MAX_MENU_ITEMS = 12
MenuLabel = Annotated[str, Meta(min_length=1, max_length=60)]


class MenuItem(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One entry of a site's menu: one of the site's pages (``page_id``; shown only while
    it is published, under its title unless ``label`` is given) or a link (``url`` and
    ``label``: an https URL, a path on the site, ``mailto:`` or ``tel:``)."""

    page_id: Annotated[str, Meta(pattern=UUID_PATTERN, max_length=36)] | None = None
    url: LinkUrl | None = None
    label: Annotated[str, Meta(max_length=60)] = ""
    new_tab: bool = False

    def __post_init__(self) -> None:
        self.label = self.label.strip()
        if bool(self.page_id) == bool(self.url):
            raise ValueError("a menu item names a page (page_id) or a link (url): one of them")
        if self.url:
            self.url = check_link(self.url, "url")
            if not self.label:
                raise ValueError("a menu link needs a label")


class FooterLink(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A link in a site's footer (an imprint, a social profile, an e-mail address)."""

    label: MenuLabel
    url: LinkUrl

    def __post_init__(self) -> None:
        self.url = check_link(self.url, "url")


class SiteSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """How the whole site looks and behaves."""

    color_mode: ColorMode = "auto"
    #: The page served at the site's root.
    home_page: Slug = "home"
    #: ``False`` adds ``Disallow: /`` to robots.txt and ``noindex`` to every page.
    allow_indexing: bool = True
    #: Shown in the footer of every page.
    footer_text: ShortText = ""
    #: Default Open Graph image of pages that name none (an absolute URL or a media path).
    social_image: Url = ""
    #: The header's menu, in order; ``None``: the published pages (home first, then the
    #: others in the order they were created).
    menu: Annotated[list[MenuItem], Meta(max_length=MAX_MENU_ITEMS)] | None = None
    #: A logo shown before the site's name in the header (an https URL or a media path).
    logo: Url = ""
    #: ``False`` shows the logo alone (it then carries the site's name as its alt text).
    show_name: bool = True
    #: Links in the footer, after its text.
    footer_links: Annotated[list[FooterLink], Meta(max_length=MAX_MENU_ITEMS)] = msgspec.field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        self.social_image = check_public_url(self.social_image, "social_image")
        self.logo = check_public_url(self.logo, "logo")
        if not self.show_name and not self.logo:
            raise ValueError("show_name can be false only with a logo")


class WebsiteProps(msgspec.Struct, forbid_unknown_fields=True):
    """Properties of a ``website`` thing."""

    slug: Slug
    theme: str = "classic"
    custom_domain: Domain | None = None
    description: LongText = ""
    language: Language = "en"
    settings: SiteSettings = msgspec.field(default_factory=SiteSettings)
    #: The token the domain's TXT record must carry; a new one with every new domain.
    domain_token: DomainToken | None = None


class Seo(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Search and social metadata of a page."""

    #: The title search results and social cards show, instead of "Page · Site".
    title: Annotated[str, Meta(max_length=200)] = ""
    description: ShortText = ""
    #: Open Graph image: an absolute URL or a media path.
    image: Url = ""
    #: Overrides the page's own URL as canonical (an absolute https URL).
    canonical_url: Url = ""
    noindex: bool = False

    def __post_init__(self) -> None:
        self.image = check_public_url(self.image, "image")
        if self.canonical_url and not self.canonical_url.startswith(("https://", "http://")):
            raise ValueError("canonical_url must be an absolute https:// URL")


class Node(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One component on a page: its type, props (validated against the component's own
    struct by the service) and, for containers, its children."""

    id: NodeId
    type: Annotated[str, Meta(min_length=1, max_length=100)]
    props: dict[str, Any] = msgspec.field(default_factory=dict)
    children: list[Node] = msgspec.field(default_factory=list)


class PageProps(msgspec.Struct, forbid_unknown_fields=True):
    """Properties of a ``page`` thing: the draft being edited, and which revision is live."""

    site_id: str
    slug: Slug
    title: Name
    seo: Seo = msgspec.field(default_factory=Seo)
    tree: list[Node] = msgspec.field(default_factory=list)
    #: The draft's revision number; every save adds one.
    revision: int = 0
    #: The revision the live page shows, if published.
    published_revision: int | None = None
    published_at: str | None = None


class PageRevisionProps(msgspec.Struct, forbid_unknown_fields=True):
    """Properties of a ``page_revision`` thing: a page as one save left it."""

    page_id: str
    number: int
    slug: Slug
    title: Name
    seo: Seo = msgspec.field(default_factory=Seo)
    tree: list[Node] = msgspec.field(default_factory=list)
    author_id: str | None = None
    #: What the save did, e.g. "component_added" or "restored revision 3".
    summary: ShortText = ""


class MediaAssetProps(msgspec.Struct, forbid_unknown_fields=True):
    """Properties of a ``media_asset`` thing (shared with the media plugin by type name)."""

    filename: Annotated[str, Meta(min_length=1, max_length=255)]
    content_type: str
    size: int
    #: Where the storage backend keeps the bytes; also the public path ``/media/<key>``.
    storage_key: str
    storage: str = "local"
    sha256: str = ""
    width: int | None = None
    height: int | None = None
    alt: ShortText = ""


# -- connection metadata ----------------------------------------------------------------


class ContainsMeta(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Metadata of website ``contains`` page."""

    position: int = 0


# -- event payloads ---------------------------------------------------------------------


class WebsiteEvent(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    site_id: str
    slug: str
    changed: list[str] = msgspec.field(default_factory=list)


class DomainConfigured(msgspec.Struct, forbid_unknown_fields=True):
    site_id: str
    domain: str | None
    previous: str | None = None


class DomainVerification(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A custom domain's record was found (``domain_verified``) or was not
    (``domain_verification_failed``: ``reason`` says what was seen)."""

    site_id: str
    domain: str
    reason: str = ""


class PageEvent(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    site_id: str
    page_id: str
    slug: str
    revision: int = 0
    changed: list[str] = msgspec.field(default_factory=list)


class ComponentAdded(msgspec.Struct, forbid_unknown_fields=True):
    site_id: str
    page_id: str
    node_id: str
    component: str
    parent_id: str | None = None


class MediaUploaded(msgspec.Struct, forbid_unknown_fields=True):
    asset_id: str
    filename: str
    content_type: str
    size: int


# -- API bodies -------------------------------------------------------------------------


class WebsiteIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    slug: Slug
    theme: ThemeName = "classic"
    custom_domain: Domain | None = None
    description: LongText = ""
    language: Language = "en"
    settings: SiteSettings | None = None


class SiteSettingsPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Settings to change, each as in :class:`SiteSettings` (merged, then checked whole)."""

    color_mode: ColorMode | msgspec.UnsetType = msgspec.UNSET
    home_page: Slug | msgspec.UnsetType = msgspec.UNSET
    allow_indexing: bool | msgspec.UnsetType = msgspec.UNSET
    footer_text: ShortText | msgspec.UnsetType = msgspec.UNSET
    social_image: Url | msgspec.UnsetType = msgspec.UNSET
    #: ``null`` goes back to the default menu (the published pages).
    menu: Annotated[list[MenuItem], Meta(max_length=MAX_MENU_ITEMS)] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )
    logo: Url | msgspec.UnsetType = msgspec.UNSET
    show_name: bool | msgspec.UnsetType = msgspec.UNSET
    footer_links: (
        Annotated[list[FooterLink], Meta(max_length=MAX_MENU_ITEMS)] | msgspec.UnsetType
    ) = msgspec.UNSET


class SeoPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """SEO fields to change, each as in :class:`Seo` (merged, then checked whole)."""

    title: Annotated[str, Meta(max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    description: ShortText | msgspec.UnsetType = msgspec.UNSET
    image: Url | msgspec.UnsetType = msgspec.UNSET
    canonical_url: Url | msgspec.UnsetType = msgspec.UNSET
    noindex: bool | msgspec.UnsetType = msgspec.UNSET


class WebsitePatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Fields to change; ``custom_domain: null`` removes the domain."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    slug: Slug | msgspec.UnsetType = msgspec.UNSET
    theme: ThemeName | msgspec.UnsetType = msgspec.UNSET
    custom_domain: Domain | msgspec.UnsetType | None = msgspec.UNSET
    description: LongText | msgspec.UnsetType = msgspec.UNSET
    language: Language | msgspec.UnsetType = msgspec.UNSET
    #: Merged into the current settings: send only what changes.
    settings: SiteSettingsPatch | msgspec.UnsetType = msgspec.UNSET


class PageIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Name
    slug: Slug
    seo: Seo | None = None
    tree: list[Node] | None = None


class PagePatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Fields to change. ``tree`` replaces the whole component tree (the builder's undo)."""

    title: Name | msgspec.UnsetType = msgspec.UNSET
    slug: Slug | msgspec.UnsetType = msgspec.UNSET
    #: Merged into the current SEO fields: send only what changes.
    seo: SeoPatch | msgspec.UnsetType = msgspec.UNSET
    tree: list[Node] | msgspec.UnsetType = msgspec.UNSET


class ComponentIn(msgspec.Struct, forbid_unknown_fields=True):
    """Add a component: into ``parent_id`` (a container) or the page's top level, at
    ``position`` (default: the end)."""

    type: Annotated[str, Meta(min_length=1, max_length=100)]
    props: dict[str, Any] | None = None
    parent_id: NodeId | None = None
    position: Annotated[int, Meta(ge=0)] | None = None


class ComponentPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Props to change (merged into the current ones; ``null`` resets one to its default)."""

    props: dict[str, Any]


class ComponentMove(msgspec.Struct, forbid_unknown_fields=True):
    """Move a component under ``parent_id`` (``null``: the top level) at ``position``."""

    parent_id: NodeId | None = None
    position: Annotated[int, Meta(ge=0)] = 0


class DuplicateIn(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    title: Name | None = None


class PageView(msgspec.Struct):
    """A page as the API shows it."""

    id: str
    site_id: str
    slug: str
    title: str
    status: str
    seo: Seo
    tree: list[Node]
    revision: int
    published_revision: int | None
    published_at: str | None
    #: True when the draft differs from what is live.
    has_unpublished_changes: bool
    version: int
    url: str
    created_at: str
    updated_at: str


class DomainRecord(msgspec.Struct):
    """The DNS record that proves a custom domain is the site owner's."""

    name: str
    type: str
    value: str


class DomainView(msgspec.Struct):
    """A site's custom domain: ``pending`` (not served) until its ``record`` is found,
    then ``verified``; re-checked on a schedule."""

    name: str
    status: str
    verified_at: str | None
    record: DomainRecord


class WebsiteView(msgspec.Struct):
    id: str
    name: str
    slug: str
    theme: str
    custom_domain: str | None
    description: str
    language: str
    settings: SiteSettings
    version: int
    url: str
    created_at: str
    updated_at: str
    #: The custom domain's verification (``None``: no custom domain).
    domain: DomainView | None = None


class RevisionView(msgspec.Struct):
    id: str
    page_id: str
    number: int
    title: str
    slug: str
    summary: str
    author_id: str | None
    created_at: str
    seo: Seo | None = None
    tree: list[Node] | None = None


class BlueprintView(msgspec.Struct):
    """A section or page template: a tree without node ids (the builder gives each
    insertion fresh ones)."""

    name: str
    label: str
    description: str
    tree: list[dict[str, Any]]


class BlueprintsView(msgspec.Struct):
    """Section templates (inserted into a page), page templates (a new page's tree) and
    the placeholder texts they and the components' defaults use (warned about at
    publish)."""

    sections: list[BlueprintView]
    pages: list[BlueprintView]
    placeholders: list[str]


class ComponentView(msgspec.Struct):
    """A component type the builder can place."""

    type: str
    label: str
    description: str
    category: str
    container: bool
    #: Props a new node starts with.
    defaults: dict[str, Any]
    #: JSON schema of the props.
    schema: dict[str, Any]
    #: Props edited inline on the canvas (plain text).
    inline: list[str]
    plugin: str


class ThemeView(msgspec.Struct):
    name: str
    label: str
    description: str


class MediaView(msgspec.Struct):
    id: str
    filename: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    alt: str
    url: str
    created_at: str
