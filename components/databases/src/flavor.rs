//! The two faces of one engine (`appwrite-api.md` §6.3): the legacy Databases API (collections,
//! attributes, documents) and TablesDB (tables, columns, rows). Same storage and rules; the
//! nouns in paths, parameters, models and error types differ.

use edgewrite_core::{AppwriteError, ErrorType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Legacy,
    Tables,
}

impl Flavor {
    pub fn legacy(self) -> bool {
        self == Flavor::Legacy
    }

    fn pick(self, legacy: &'static str, tables: &'static str) -> &'static str {
        if self.legacy() {
            legacy
        } else {
            tables
        }
    }

    /// `collectionId` / `tableId` (path slot and create parameter).
    pub fn collection_param(self) -> &'static str {
        self.pick("collectionId", "tableId")
    }
    pub fn document_param(self) -> &'static str {
        self.pick("documentId", "rowId")
    }
    /// Model key of the owning collection on a document: `$collectionId` / `$tableId`.
    pub fn collection_ref(self) -> &'static str {
        self.pick("$collectionId", "$tableId")
    }
    pub fn security_key(self) -> &'static str {
        self.pick("documentSecurity", "rowSecurity")
    }
    pub fn attributes_key(self) -> &'static str {
        self.pick("attributes", "columns")
    }
    pub fn collections_key(self) -> &'static str {
        self.pick("collections", "tables")
    }
    pub fn documents_key(self) -> &'static str {
        self.pick("documents", "rows")
    }
    /// The database `type` this API creates.
    pub fn database_type(self) -> &'static str {
        self.pick("legacy", "tablesdb")
    }
    pub fn scope(self, noun: Noun, write: bool) -> &'static str {
        match (noun, self, write) {
            (Noun::Collection, Flavor::Legacy, false) => "collections.read",
            (Noun::Collection, Flavor::Legacy, true) => "collections.write",
            (Noun::Collection, Flavor::Tables, false) => "tables.read",
            (Noun::Collection, Flavor::Tables, true) => "tables.write",
            (Noun::Document, Flavor::Legacy, false) => "documents.read",
            (Noun::Document, Flavor::Legacy, true) => "documents.write",
            (Noun::Document, Flavor::Tables, false) => "rows.read",
            (Noun::Document, Flavor::Tables, true) => "rows.write",
        }
    }

    pub fn collection_not_found(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::CollectionNotFound,
                "Collection with the requested ID could not be found.",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::TableNotFound,
                "Table with the requested ID could not be found.",
            ),
        }
    }
    pub fn collection_exists(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::CollectionAlreadyExists,
                "A collection with the requested ID already exists.",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::TableAlreadyExists,
                "A table with the requested ID already exists.",
            ),
        }
    }
    pub fn document_not_found(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::DocumentNotFound,
                "Document with the requested ID could not be found.",
            ),
            Flavor::Tables => {
                AppwriteError::new(ErrorType::RowNotFound, "Row with the requested ID could not be found.")
            }
        }
    }
    pub fn document_exists(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::DocumentAlreadyExists,
                "Document with the requested ID already exists. Try again with a different ID or use ID.unique() to generate a unique ID.",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::RowAlreadyExists,
                "Row with the requested ID already exists. Try again with a different ID or use ID.unique() to generate a unique ID.",
            ),
        }
    }
    pub fn delete_restricted(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::DocumentDeleteRestricted,
                "Document cannot be deleted because it is referenced by a relationship with onDelete set to restrict.",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::RowDeleteRestricted,
                "Row cannot be deleted because it is referenced by a relationship with onDelete set to restrict.",
            ),
        }
    }
    /// The related collection or table a relationship names.
    pub fn related_param(self) -> &'static str {
        self.pick("relatedCollectionId", "relatedTableId")
    }
    /// The relationship model's key for the related collection.
    pub fn related_key(self) -> &'static str {
        self.pick("relatedCollection", "relatedTable")
    }
    pub fn invalid_structure(self, detail: &str) -> AppwriteError {
        let (kind, noun) = match self {
            Flavor::Legacy => (ErrorType::DocumentInvalidStructure, "document"),
            Flavor::Tables => (ErrorType::RowInvalidStructure, "row"),
        };
        AppwriteError::new(kind, format!("Invalid {noun} structure: {detail}"))
    }
    pub fn missing_data(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::DocumentMissingData,
                "The document data is missing. Try again with document data populated",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::RowMissingData,
                "The row data is missing. Try again with row data populated",
            ),
        }
    }
    pub fn missing_payload(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::DocumentMissingPayload,
                "The document data and permissions are missing. You must provide either document data or permissions to be updated.",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::RowMissingPayload,
                "The row data and permissions are missing. You must provide either row data or permissions to be updated.",
            ),
        }
    }
    pub fn attribute_not_found(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::AttributeNotFound,
                "Attribute with the requested ID could not be found.",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::ColumnNotFound,
                "Column with the requested ID could not be found.",
            ),
        }
    }
    pub fn attribute_exists(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::AttributeAlreadyExists,
                "Attribute with the requested key already exists. Attribute keys must be unique, try again with a different key.",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::ColumnAlreadyExists,
                "Column with the requested key already exists. Column keys must be unique, try again with a different key.",
            ),
        }
    }
    pub fn default_unsupported(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::AttributeDefaultUnsupported,
                "Cannot set default value for a required attribute",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::ColumnDefaultUnsupported,
                "Cannot set default value for a required column",
            ),
        }
    }
    pub fn attribute_unknown(self, key: &str) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::AttributeUnknown,
                format!("The attribute \"{key}\" could not be found."),
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::ColumnUnknown,
                format!("The column \"{key}\" could not be found."),
            ),
        }
    }
    pub fn type_invalid(self, message: &str) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(ErrorType::AttributeTypeInvalid, message),
            Flavor::Tables => AppwriteError::new(ErrorType::ColumnTypeInvalid, message),
        }
    }
    pub fn limit_exceeded(self, message: &str) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(ErrorType::AttributeLimitExceeded, message),
            Flavor::Tables => AppwriteError::new(ErrorType::ColumnLimitExceeded, message),
        }
    }
    pub fn index_not_found(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::IndexNotFound,
                "Index with the requested ID could not be found.",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::ColumnIndexNotFound,
                "Index with the requested ID could not be found.",
            ),
        }
    }
    pub fn index_exists(self) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(
                ErrorType::IndexAlreadyExists,
                "Index with the requested key already exists.",
            ),
            Flavor::Tables => AppwriteError::new(
                ErrorType::ColumnIndexAlreadyExists,
                "Index with the requested key already exists.",
            ),
        }
    }
    pub fn index_invalid(self, message: &str) -> AppwriteError {
        match self {
            Flavor::Legacy => AppwriteError::new(ErrorType::IndexInvalid, message),
            Flavor::Tables => AppwriteError::new(ErrorType::ColumnIndexInvalid, message),
        }
    }
}

/// Which scope family a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noun {
    /// Collections/tables, their attributes/columns and indexes.
    Collection,
    Document,
}
