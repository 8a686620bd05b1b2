//! The schema of a project's databases as stored in its SQL (migration 7): databases,
//! collections, attributes and indexes, and the per-collection tables that hold documents
//! (`_db_docs_<seq>`) and their permissions (`_db_perms_<seq>`).

use edgewrite_core::ports::{CachedRead, Rows, Statement, Value};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType};
use serde_json::{json, Value as Json};

use crate::flavor::Flavor;

pub const DATABASE_COLUMNS: &str = "seq, id, name, enabled, type, created_at, updated_at";
pub const COLLECTION_COLUMNS: &str =
    "seq, database_seq, id, name, permissions, document_security, enabled, created_at, updated_at";
pub const ATTRIBUTE_COLUMNS: &str =
    "key, type, format, size, required, array, default_value, options, status, created_at, updated_at";
pub const INDEX_COLUMNS: &str = "key, type, attributes, orders, lengths, status, created_at, updated_at";

fn text(row: &[Value], i: usize) -> String {
    row.get(i).and_then(Value::as_str).unwrap_or_default().to_string()
}
fn int(row: &[Value], i: usize) -> i64 {
    row.get(i).and_then(Value::as_i64).unwrap_or_default()
}
fn json_list(row: &[Value], i: usize) -> Vec<Json> {
    row.get(i).and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct Database {
    pub seq: i64,
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub kind: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Database {
    /// A stand-in naming only the id, for building document models.
    pub fn placeholder(id: &str) -> Database {
        Database {
            seq: 0,
            id: id.to_string(),
            name: String::new(),
            enabled: true,
            kind: String::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    pub fn from_row(row: &[Value]) -> Option<Database> {
        Some(Database {
            seq: row.first()?.as_i64()?,
            id: text(row, 1),
            name: text(row, 2),
            enabled: int(row, 3) == 1,
            kind: text(row, 4),
            created_at: int(row, 5),
            updated_at: int(row, 6),
        })
    }

    pub fn to_json(&self) -> Json {
        json!({
            "$id": self.id,
            "name": self.name,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "enabled": self.enabled,
            "type": self.kind,
        })
    }
}

/// What an attribute holds, which decides its column type and how values are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Float,
    Boolean,
    /// Stored as unix milliseconds; ISO-8601 on the wire.
    Datetime,
    /// A link to documents of another collection, kept in the relationship's junction table
    /// rather than in a column (see [`Relation`]).
    Relationship,
}

/// What a relationship attribute links, from the side it sits on. Each relationship keeps its
/// links as `(parent, child)` id pairs in one junction table (`_db_rel_<junction>`), whose
/// UNIQUE constraints enforce the relation type; both sides read the same table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The id of the collection on the other side.
    pub related: String,
    /// `oneToOne`, `oneToMany`, `manyToOne` or `manyToMany`, the same on both sides.
    pub relation_type: String,
    pub two_way: bool,
    /// The key of the attribute on the other side.
    pub two_way_key: String,
    /// `restrict`, `cascade` or `setNull`.
    pub on_delete: String,
    /// `true` on the side the relationship was created from.
    pub parent: bool,
    pub junction: i64,
}

impl Relation {
    pub fn junction_table(&self) -> String {
        junction_table(self.junction)
    }
    /// The junction column holding this side's ids, and the other side's.
    pub fn columns(&self) -> (&'static str, &'static str) {
        if self.parent {
            ("parent", "child")
        } else {
            ("child", "parent")
        }
    }
    /// Whether a document on this side links to many on the other.
    pub fn to_many(&self) -> bool {
        match self.relation_type.as_str() {
            "manyToMany" => true,
            "oneToMany" => self.parent,
            "manyToOne" => !self.parent,
            _ => false,
        }
    }
    /// Whether a document linked from this side can have only one partner on this side, so
    /// linking it moves it: the "many" side of one-to-many and many-to-one.
    pub fn steals(&self) -> bool {
        self.to_many() && self.relation_type != "manyToMany"
    }
    /// Whether deleting a document on this side applies `on_delete` to the documents it links
    /// to: the parent side, except for many-to-one, where it is the "one" (child) side.
    pub fn governs_delete(&self) -> bool {
        (self.relation_type == "manyToOne") != self.parent
    }
}

pub fn junction_table(junction: i64) -> String {
    format!("_db_rel_{junction}")
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub key: String,
    /// The model's `type`: `string`, `varchar`, `text`, …, `integer`, `double`, `boolean`, `datetime`.
    pub type_name: String,
    /// `email`, `enum`, `ip`, `url`, `datetime` or empty.
    pub format: String,
    pub size: i64,
    pub required: bool,
    pub array: bool,
    /// `null` when there is none.
    pub default: Json,
    /// `min`/`max` for numbers, `elements` for enums.
    pub options: Json,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Attribute {
    pub fn from_row(row: &[Value]) -> Option<Attribute> {
        Some(Attribute {
            key: row.first()?.as_str()?.to_string(),
            type_name: text(row, 1),
            format: text(row, 2),
            size: int(row, 3),
            required: int(row, 4) == 1,
            array: int(row, 5) == 1,
            default: row
                .get(6)
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(Json::Null),
            options: row
                .get(7)
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(json!({})),
            status: text(row, 8),
            created_at: int(row, 9),
            updated_at: int(row, 10),
        })
    }

    pub fn kind(&self) -> Kind {
        match self.type_name.as_str() {
            "integer" | "bigint" => Kind::Integer,
            "double" => Kind::Float,
            "boolean" => Kind::Boolean,
            "datetime" => Kind::Datetime,
            "relationship" => Kind::Relationship,
            _ => Kind::String,
        }
    }

    /// The relationship an attribute of kind [`Kind::Relationship`] stands for.
    pub fn relation(&self) -> Option<Relation> {
        if self.kind() != Kind::Relationship {
            return None;
        }
        let o = &self.options;
        let text = |k: &str| o.get(k).and_then(Json::as_str).unwrap_or_default().to_string();
        Some(Relation {
            related: text("relatedCollection"),
            relation_type: text("relationType"),
            two_way: o.get("twoWay").and_then(Json::as_bool).unwrap_or(false),
            two_way_key: text("twoWayKey"),
            on_delete: text("onDelete"),
            parent: text("side") == "parent",
            junction: o.get("junction").and_then(Json::as_i64)?,
        })
    }

    /// Whether the attribute is a column of the document table (relationships are not).
    pub fn stored(&self) -> bool {
        self.kind() != Kind::Relationship
    }

    /// Whether the API shows the attribute: all but the child side of a one-way relationship,
    /// which exists only so deletes on that side see the links.
    pub fn visible(&self) -> bool {
        self.relation().is_none_or(|r| r.parent || r.two_way)
    }

    /// A relationship side linking to one document, whose related id reads like a column
    /// (in documents, and in queries).
    pub fn to_one_relation(&self) -> Option<Relation> {
        self.relation().filter(|r| !r.to_many() && (r.parent || r.two_way))
    }

    /// The SQL column holding it (keys are validated to `[A-Za-z0-9._-]`, so quoting is safe).
    pub fn column(&self) -> String {
        format!("\"{}\"", self.key)
    }

    /// The Attribute*/Column* model.
    pub fn to_json(&self, flavor: Flavor) -> Json {
        let mut model = json!({
            "key": self.key,
            "type": self.type_name,
            "status": self.status,
            "error": "",
            "required": self.required,
            "array": self.array,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
        });
        let m = model.as_object_mut().expect("an object");
        match self.kind() {
            // Text, mediumtext and longtext have a size fixed by their type, which their models
            // leave out.
            Kind::String if self.format.is_empty() => {
                if !matches!(self.type_name.as_str(), "text" | "mediumtext" | "longtext") {
                    m.insert("size".into(), json!(self.size));
                }
            }
            Kind::String | Kind::Datetime => {
                m.insert("format".into(), json!(self.format));
            }
            Kind::Integer | Kind::Float => {
                m.insert("min".into(), self.options.get("min").cloned().unwrap_or(Json::Null));
                m.insert("max".into(), self.options.get("max").cloned().unwrap_or(Json::Null));
            }
            Kind::Boolean => {}
            Kind::Relationship => {
                let r = self.relation().unwrap_or_else(|| Relation {
                    related: String::new(),
                    relation_type: String::new(),
                    two_way: false,
                    two_way_key: String::new(),
                    on_delete: String::new(),
                    parent: true,
                    junction: 0,
                });
                m.insert(flavor.related_key().into(), json!(r.related));
                m.insert("relationType".into(), json!(r.relation_type));
                m.insert("twoWay".into(), json!(r.two_way));
                m.insert("twoWayKey".into(), json!(r.two_way_key));
                m.insert("onDelete".into(), json!(r.on_delete));
                m.insert("side".into(), json!(if r.parent { "parent" } else { "child" }));
                return model;
            }
        }
        if self.format == "enum" {
            m.insert("elements".into(), self.options.get("elements").cloned().unwrap_or(json!([])));
        }
        m.insert("default".into(), self.default.clone());
        model
    }
}

#[derive(Debug, Clone)]
pub struct Index {
    pub key: String,
    pub kind: String,
    pub attributes: Vec<String>,
    pub orders: Vec<Json>,
    pub lengths: Vec<Json>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Index {
    pub fn from_row(row: &[Value]) -> Option<Index> {
        Some(Index {
            key: row.first()?.as_str()?.to_string(),
            kind: text(row, 1),
            attributes: json_list(row, 2)
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            orders: json_list(row, 3),
            lengths: json_list(row, 4),
            status: text(row, 5),
            created_at: int(row, 6),
            updated_at: int(row, 7),
        })
    }

    pub fn to_json(&self, flavor: Flavor) -> Json {
        json!({
            "$id": self.key,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "key": self.key,
            "type": self.kind,
            "status": self.status,
            "error": "",
            flavor.attributes_key(): self.attributes,
            "lengths": self.lengths,
            "orders": self.orders,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Collection {
    pub seq: i64,
    pub database_id: String,
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub document_security: bool,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub attributes: Vec<Attribute>,
    pub indexes: Vec<Index>,
}

impl Collection {
    pub fn from_row(row: &[Value], database_id: &str) -> Option<Collection> {
        Some(Collection {
            seq: row.first()?.as_i64()?,
            database_id: database_id.to_string(),
            id: text(row, 2),
            name: text(row, 3),
            permissions: json_list(row, 4)
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            document_security: int(row, 5) == 1,
            enabled: int(row, 6) == 1,
            created_at: int(row, 7),
            updated_at: int(row, 8),
            attributes: Vec::new(),
            indexes: Vec::new(),
        })
    }

    pub fn docs_table(&self) -> String {
        docs_table(self.seq)
    }
    pub fn perms_table(&self) -> String {
        perms_table(self.seq)
    }

    /// A visible attribute by key.
    pub fn attribute(&self, key: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.key == key && a.visible())
    }

    /// The attributes that are columns of the document table, in column order.
    pub fn stored(&self) -> impl Iterator<Item = &Attribute> {
        self.attributes.iter().filter(|a| a.stored())
    }

    /// What reads select documents from: the document table, or, when the collection has
    /// to-one relationships, a view of it adding each as a column of the related id.
    pub fn read_source(&self) -> String {
        let to_one: Vec<String> = self
            .attributes
            .iter()
            .filter_map(|a| {
                let r = a.to_one_relation()?;
                let (mine, theirs) = r.columns();
                Some(format!(
                    "(SELECT r.{theirs} FROM {} r WHERE r.{mine} = d._id) AS {}",
                    r.junction_table(),
                    a.column()
                ))
            })
            .collect();
        if to_one.is_empty() {
            return self.docs_table();
        }
        format!("(SELECT d.rowid AS rowid, d.*, {} FROM {} d)", to_one.join(", "), self.docs_table())
    }

    pub fn to_json(&self, flavor: Flavor) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "$permissions": self.permissions,
            "databaseId": self.database_id,
            "name": self.name,
            "enabled": self.enabled,
            flavor.security_key(): self.document_security,
            flavor.attributes_key(): self
                .attributes
                .iter()
                .filter(|a| a.visible())
                .map(|a| a.to_json(flavor))
                .collect::<Vec<_>>(),
            "indexes": self.indexes.iter().map(|i| i.to_json(flavor)).collect::<Vec<_>>(),
            "bytesMax": 0,
            "bytesUsed": 0,
        })
    }
}

pub fn docs_table(seq: i64) -> String {
    format!("_db_docs_{seq}")
}
pub fn perms_table(seq: i64) -> String {
    format!("_db_perms_{seq}")
}

pub fn database_not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::DatabaseNotFound, "Database not found")
}

/// The `{databaseId}` database.
pub async fn load_database(ctx: &Ctx<'_>) -> Result<Database, AppwriteError> {
    let id = ctx.params.required_text("databaseId", 36)?;
    database_by_id(ctx, &id).await
}

/// The database with `id`.
pub async fn database_by_id(ctx: &Ctx<'_>, id: &str) -> Result<Database, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {DATABASE_COLUMNS} FROM databases WHERE id = ?"),
            vec![id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| Database::from_row(r)).ok_or_else(database_not_found)
}

/// The `{databaseId}` database and its `{collectionId}`/`{tableId}` collection, with attributes
/// and indexes: one round trip. A disabled collection exists only for API keys.
pub async fn load_collection(ctx: &Ctx<'_>, flavor: Flavor) -> Result<(Database, Collection), AppwriteError> {
    let database_id = ctx.params.required_text("databaseId", 36)?;
    let collection_id = ctx.params.required_text(flavor.collection_param(), 36)?;
    load_collection_by(ctx, flavor, &database_id, &collection_id).await
}

/// [`load_collection`] by explicit ids.
pub async fn load_collection_by(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database_id: &str,
    collection_id: &str,
) -> Result<(Database, Collection), AppwriteError> {
    let (database_id, collection_id) = (database_id.to_string(), collection_id.to_string());
    let seq_of = "(SELECT c.seq FROM collections c JOIN databases d ON d.seq = c.database_seq WHERE d.id = ? AND c.id = ?)";
    let ids = || vec![Value::from(database_id.clone()), Value::from(collection_id.clone())];
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(format!("SELECT {DATABASE_COLUMNS} FROM databases WHERE id = ?"), vec![database_id.clone().into()])
                .cached(CachedRead::Schema),
            Statement::new(
                format!(
                    "SELECT {} FROM collections c JOIN databases d ON d.seq = c.database_seq WHERE d.id = ? AND c.id = ?",
                    COLLECTION_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ")
                ),
                ids(),
            )
            .cached(CachedRead::Schema),
            Statement::new(
                format!("SELECT {ATTRIBUTE_COLUMNS} FROM attributes WHERE collection_seq = {seq_of} ORDER BY rowid"),
                ids(),
            )
            .cached(CachedRead::Schema),
            Statement::new(
                format!("SELECT {INDEX_COLUMNS} FROM indexes WHERE collection_seq = {seq_of} ORDER BY rowid"),
                ids(),
            )
            .cached(CachedRead::Schema),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    let first = |i: usize| out.get(i).and_then(|r: &Rows| r.rows.first());
    let database = first(0).and_then(|r| Database::from_row(r)).ok_or_else(database_not_found)?;
    let is_app = matches!(ctx.caller, edgewrite_core::identity::Caller::App { .. });
    if !is_app && !database.enabled {
        return Err(database_not_found());
    }
    let mut collection = first(1)
        .and_then(|r| Collection::from_row(r, &database.id))
        .ok_or_else(|| flavor.collection_not_found())?;
    if !is_app && !collection.enabled {
        return Err(flavor.collection_not_found());
    }
    collection.attributes = out
        .get(2)
        .map(|r| r.rows.iter().filter_map(|r| Attribute::from_row(r)).collect())
        .unwrap_or_default();
    collection.indexes =
        out.get(3).map(|r| r.rows.iter().filter_map(|r| Index::from_row(r)).collect()).unwrap_or_default();
    Ok((database, collection))
}
