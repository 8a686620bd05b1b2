//! The Appwrite error model (`../shared/appwrite-api.md` §1.5, §13): one enum of error types, each
//! rendering the exact `type` string and HTTP status the official SDKs key off.

use std::fmt;

use serde::Serialize;

/// Version reported in error bodies and `/v1/health/version`: the Appwrite server release whose
/// wire contract edgewrite speaks.
pub const APPWRITE_VERSION: &str = "1.9.6";

macro_rules! error_types {
    ($($variant:ident = ($type_str:literal, $status:literal, $message:literal),)*) => {
        /// Every Appwrite error type edgewrite can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorType {
            $($variant,)*
        }

        impl ErrorType {
            /// All variants, for exhaustive tests.
            pub const ALL: &'static [ErrorType] = &[$(ErrorType::$variant,)*];

            /// The exact `type` string of the error body.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorType::$variant => $type_str,)* }
            }

            /// The HTTP status Appwrite answers with.
            pub fn status(self) -> u16 {
                match self { $(ErrorType::$variant => $status,)* }
            }

            /// The message used when the caller gives none.
            pub fn default_message(self) -> &'static str {
                match self { $(ErrorType::$variant => $message,)* }
            }
        }
    };
}

error_types! {
    GeneralUnknown = ("general_unknown", 500, "Server Error"),
    GeneralAccessForbidden = ("general_access_forbidden", 401, "Access to this API/endpoint is forbidden (e.g. wrong region, console-only)."),
    GeneralUnknownOrigin = ("general_unknown_origin", 403, "Browser Origin not registered as a web platform of the project."),
    GeneralApiDisabled = ("general_api_disabled", 403, "REST/GraphQL/WebSocket API switched off for the project."),
    GeneralServiceDisabled = ("general_service_disabled", 403, "Service (account, databases, …) switched off for the project."),
    GeneralUnauthorizedScope = ("general_unauthorized_scope", 401, "Caller role/API key lacks the route scope (guest calling /account etc.)."),
    GeneralRateLimitExceeded = ("general_rate_limit_exceeded", 429, "Abuse limit hit (see §10)."),
    GeneralResourceLocked = ("general_resource_locked", 409, "Resource being modified concurrently; retry."),
    GeneralSmtpDisabled = ("general_smtp_disabled", 503, "Email needed but no SMTP configured."),
    GeneralPhoneDisabled = ("general_phone_disabled", 503, "SMS needed but no SMS provider configured."),
    // Not an Appwrite type: Appwrite leaves oversized bodies to its HTTP server. edgewrite answers
    // them in the Appwrite shape so the SDKs surface a clear error.
    GeneralPayloadTooLarge = ("general_payload_too_large", 413, "Request body is too large."),
    GeneralArgumentInvalid = ("general_argument_invalid", 400, "Parameter validation failed (missing/invalid param, bad password format)."),
    GeneralQueryInvalid = ("general_query_invalid", 400, "Malformed or unsupported query."),
    GeneralRouteNotFound = ("general_route_not_found", 404, "Route not found. Please ensure the endpoint is configured correctly and that the API route is valid for this SDK version. Refer to the API docs for more details."),
    GeneralCursorNotFound = ("general_cursor_not_found", 400, "CursorAfter/cursorBefore id does not exist."),
    GeneralServerError = ("general_server_error", 500, "Server Error"),
    GeneralProtocolUnsupported = ("general_protocol_unsupported", 426, "Non-GET over http when https is forced."),
    GeneralUpstreamFailed = ("general_upstream_failed", 502, "The upstream (legacy) server could not be reached."),
    GeneralUpstreamTimeout = ("general_upstream_timeout", 504, "The upstream (legacy) server did not answer in time."),
    GeneralNotImplemented = ("general_not_implemented", 405, "This method was not fully implemented yet. If you believe this is a mistake, please upgrade your Appwrite server version."),
    GeneralInvalidEmail = ("general_invalid_email", 400, "Email could not be parsed."),
    GeneralInvalidPhone = ("general_invalid_phone", 400, "Phone number invalid."),
    GeneralBadRequest = ("general_bad_request", 400, "Generic bad request (also used to hide account existence)."),
    UserCountExceeded = ("user_count_exceeded", 400, "Project user limit reached."),
    UserJwtInvalid = ("user_jwt_invalid", 401, "JWT signature/expiry invalid."),
    UserAlreadyExists = ("user_already_exists", 409, "User id or email (or phone) already registered."),
    UserBlocked = ("user_blocked", 403, "User status is false."),
    UserInvalidToken = ("user_invalid_token", 401, "Token/OTP/secret invalid or expired (sessions/token, recovery, verification, MFA)."),
    UserPasswordResetRequired = ("user_password_reset_required", 412, "User flagged to reset password."),
    UserInvalidCode = ("user_invalid_code", 401, "Invalid code."),
    UserInvalidCredentials = ("user_invalid_credentials", 401, "Wrong email/password, or wrong old password."),
    UserAnonymousConsoleProhibited = ("user_anonymous_console_prohibited", 401, "Anonymous sessions not allowed for console."),
    UserSessionAlreadyExists = ("user_session_already_exists", 401, "Session-creating route called while already authenticated."),
    UserNotFound = ("user_not_found", 404, "User does not exist."),
    UserEmailNotFound = ("user_email_not_found", 400, "User has no email (needed for the operation)."),
    UserEmailAlreadyExists = ("user_email_already_exists", 409, "Email already used by another user."),
    UserPasswordMismatch = ("user_password_mismatch", 400, "Passwords do not match (defined; unused by current routes)."),
    PasswordRecentlyUsed = ("password_recently_used", 400, "Password found in history (history policy)."),
    PasswordPersonalData = ("password_personal_data", 400, "Password contains personal data (policy)."),
    UserSessionNotFound = ("user_session_not_found", 404, "No such session / no current session."),
    UserIdentityNotFound = ("user_identity_not_found", 404, "No such identity."),
    UserUnauthorized = ("user_unauthorized", 401, "The current user is not authorized to perform the requested action."),
    UserAuthMethodUnsupported = ("user_auth_method_unsupported", 501, "Auth method disabled for the project."),
    UserPhoneAlreadyExists = ("user_phone_already_exists", 409, "Phone already used."),
    UserRecoveryCodesAlreadyExists = ("user_recovery_codes_already_exists", 409, "MFA recovery codes already generated."),
    UserAuthenticatorNotFound = ("user_authenticator_not_found", 404, "No such MFA authenticator."),
    UserRecoveryCodesNotFound = ("user_recovery_codes_not_found", 404, "MFA recovery codes not generated."),
    UserAuthenticatorAlreadyVerified = ("user_authenticator_already_verified", 409, "TOTP authenticator already verified."),
    UserPhoneNotFound = ("user_phone_not_found", 400, "User has no phone."),
    UserMoreFactorsRequired = ("user_more_factors_required", 401, "MFA enabled; session must complete a challenge."),
    UserChallengeRequired = ("user_challenge_required", 401, "Recent MFA challenge needed (30 min freshness)."),
    UserOauth2BadRequest = ("user_oauth2_bad_request", 400, "OAuth2 provider rejected the request."),
    UserOauth2Unauthorized = ("user_oauth2_unauthorized", 401, "OAuth2 provider denied."),
    UserOauth2ProviderError = ("user_oauth2_provider_error", 424, "OAuth2 provider error."),
    UserEmailNotVerified = ("user_email_not_verified", 400, "Email must be verified for this factor."),
    UserPhoneAlreadyVerified = ("user_phone_already_verified", 409, "Phone already verified."),
    UserEmailAlreadyVerified = ("user_email_already_verified", 409, "Email already verified."),
    UserPhoneNotVerified = ("user_phone_not_verified", 400, "Phone must be verified."),
    UserTargetNotFound = ("user_target_not_found", 404, "Messaging target missing."),
    UserTargetAlreadyExists = ("user_target_already_exists", 409, "A target with this identifier exists (also on email change to a used email)."),
    UserApiKeyAndSessionSet = ("user_api_key_and_session_set", 403, "Account API key used together with a session."),
    UserJwtAndCookieSet = ("user_jwt_and_cookie_set", 403, "Both JWT and session present."),
    UserJwtCreationDenied = ("user_jwt_creation_denied", 403, "JWT cannot mint another JWT."),
    ApiKeyExpired = ("api_key_expired", 401, "API key expired."),
    TeamNotFound = ("team_not_found", 404, "Team does not exist."),
    TeamInviteNotFound = ("team_invite_not_found", 404, "Invite/membership does not exist."),
    TeamInvalidSecret = ("team_invalid_secret", 401, "Membership confirmation secret invalid."),
    TeamMembershipMismatch = ("team_membership_mismatch", 404, "Membership belongs to another team."),
    TeamInviteMismatch = ("team_invite_mismatch", 401, "Invite belongs to another user."),
    TeamInviteAlreadyExists = ("team_invite_already_exists", 409, "User has already been invited or is already a member of this team"),
    TeamAlreadyExists = ("team_already_exists", 409, "Team id taken."),
    MembershipNotFound = ("membership_not_found", 404, "Membership does not exist."),
    MembershipAlreadyConfirmed = ("membership_already_confirmed", 409, "Membership already accepted."),
    MembershipDeletionProhibited = ("membership_deletion_prohibited", 400, "Cannot remove last owner."),
    AvatarNotFound = ("avatar_not_found", 404, "Unknown avatar code."),
    AvatarImageNotFound = ("avatar_image_not_found", 404, "Remote image not found."),
    AvatarRemoteUrlFailed = ("avatar_remote_url_failed", 404, "Failed to fetch favicon from the requested URL."),
    AvatarIconNotFound = ("avatar_icon_not_found", 404, "The requested favicon could not be found."),
    StorageFileAlreadyExists = ("storage_file_already_exists", 409, "File id taken / upload already complete."),
    StorageFileNotFound = ("storage_file_not_found", 404, "File missing or unreadable."),
    StorageFileEmpty = ("storage_file_empty", 400, "No file in the multipart body."),
    StorageFileTypeUnsupported = ("storage_file_type_unsupported", 400, "Extension not allowed by bucket."),
    StorageInvalidFileSize = ("storage_invalid_file_size", 400, "File bigger than bucket maximumFileSize."),
    StorageInvalidFile = ("storage_invalid_file", 403, "Upload corrupted / could not be stored."),
    StorageBucketAlreadyExists = ("storage_bucket_already_exists", 409, "Bucket id taken."),
    StorageBucketNotFound = ("storage_bucket_not_found", 404, "Bucket missing."),
    StorageInvalidContentRange = ("storage_invalid_content_range", 400, "Bad Content-Range header."),
    StorageInvalidRange = ("storage_invalid_range", 416, "Bad Range header on view/download."),
    StorageInvalidAppwriteId = ("storage_invalid_appwrite_id", 400, "Bad x-appwrite-id header."),
    StorageBucketTransformationsDisabled = ("storage_bucket_transformations_disabled", 403, "Preview requested but transformations off."),
    StorageImageResolutionExceeded = ("storage_image_resolution_exceeded", 400, "Image too large to preview."),
    TokenNotFound = ("token_not_found", 404, "File token missing."),
    TokenExpired = ("token_expired", 401, "File token expired."),
    FunctionNotFound = ("function_not_found", 404, "Function missing."),
    FunctionExecutePermissionMissing = ("function_execute_permission_missing", 401, "Execute permission missing."),
    FunctionSynchronousTimeout = ("function_synchronous_timeout", 408, "Sync execution exceeded timeout."),
    DeploymentNotFound = ("deployment_not_found", 404, "No (active) deployment."),
    BuildNotReady = ("build_not_ready", 400, "Deployment still building."),
    ExecutionNotFound = ("execution_not_found", 404, "Execution missing."),
    ExecutionInProgress = ("execution_in_progress", 400, "Execution still waiting or running."),
    FunctionAlreadyExists = ("function_already_exists", 409, "Function id taken."),
    FunctionRuntimeUnsupported = ("function_runtime_unsupported", 404, "Runtime not supported by this server."),
    VariableNotFound = ("variable_not_found", 404, "Variable missing."),
    VariableAlreadyExists = ("variable_already_exists", 409, "Variable key or id taken."),
    PresenceNotFound = ("presence_not_found", 404, "Presence missing."),
    PresenceAlreadyExists = ("presence_already_exists", 409, "Presence id taken by another user."),
    WebhookNotFound = ("webhook_not_found", 404, "Webhook missing."),
    WebhookAlreadyExists = ("webhook_already_exists", 409, "Webhook id taken."),
    DatabaseNotFound = ("database_not_found", 404, "Database missing."),
    DatabaseAlreadyExists = ("database_already_exists", 409, "Database id taken."),
    DatabaseTimeout = ("database_timeout", 408, "Query timed out."),
    CollectionNotFound = ("collection_not_found", 404, "Collection missing or disabled."),
    CollectionAlreadyExists = ("collection_already_exists", 409, "Collection id taken."),
    TableNotFound = ("table_not_found", 404, "Table missing (TablesDB)."),
    DocumentNotFound = ("document_not_found", 404, "Document missing or not readable."),
    DocumentInvalidStructure = ("document_invalid_structure", 400, "Data does not match schema (unknown attr, wrong type, missing required)."),
    DocumentMissingData = ("document_missing_data", 400, "Empty data / missing document id."),
    DocumentMissingPayload = ("document_missing_payload", 400, "Nothing to update."),
    DocumentAlreadyExists = ("document_already_exists", 409, "Document id taken."),
    DocumentUniqueConstraintViolation = ("document_unique_constraint_violation", 409, "Unique index violated."),
    DocumentUpdateConflict = ("document_update_conflict", 409, "Document changed since the request timestamp."),
    DocumentDeleteRestricted = ("document_delete_restricted", 403, "OnDelete=restrict relationship blocks delete."),
    RowNotFound = ("row_not_found", 404, "Row missing (TablesDB); row_* mirror document_*."),
    TableAlreadyExists = ("table_already_exists", 409, "Table id taken (TablesDB)."),
    RowInvalidStructure = ("row_invalid_structure", 400, "Row data does not match the table's columns."),
    RowMissingData = ("row_missing_data", 400, "Empty row data."),
    RowMissingPayload = ("row_missing_payload", 400, "Nothing to update."),
    RowAlreadyExists = ("row_already_exists", 409, "Row id taken, or a unique index violated."),
    RowDeleteRestricted = ("row_delete_restricted", 403, "OnDelete=restrict relationship blocks delete (TablesDB)."),
    ColumnNotFound = ("column_not_found", 404, "Column missing."),
    ColumnUnknown = ("column_unknown", 400, "Unknown column."),
    ColumnDefaultUnsupported = ("column_default_unsupported", 400, "Default given for a required column."),
    ColumnAlreadyExists = ("column_already_exists", 409, "Column key taken."),
    ColumnLimitExceeded = ("column_limit_exceeded", 400, "Too many columns, or a value beyond min/max."),
    ColumnValueInvalid = ("column_value_invalid", 400, "Value outside column constraints."),
    ColumnTypeInvalid = ("column_type_invalid", 400, "Wrong column type for the operation."),
    ColumnIndexNotFound = ("column_index_not_found", 404, "Index missing (TablesDB)."),
    ColumnIndexAlreadyExists = ("column_index_already_exists", 409, "Index key taken (TablesDB)."),
    ColumnIndexInvalid = ("column_index_invalid", 400, "Index definition invalid (TablesDB)."),
    AttributeNotFound = ("attribute_not_found", 404, "Attribute missing."),
    AttributeUnknown = ("attribute_unknown", 400, "Unknown attribute in query/data."),
    AttributeNotAvailable = ("attribute_not_available", 400, "Attribute still processing/failed."),
    AttributeDefaultUnsupported = ("attribute_default_unsupported", 400, "Default given for a required attribute."),
    AttributeAlreadyExists = ("attribute_already_exists", 409, "Attribute key taken."),
    AttributeLimitExceeded = ("attribute_limit_exceeded", 400, "Too many attributes."),
    AttributeValueInvalid = ("attribute_value_invalid", 400, "Value outside attribute constraints."),
    AttributeTypeInvalid = ("attribute_type_invalid", 400, "Wrong type for operation (e.g. increment on non-number)."),
    RelationshipValueInvalid = ("relationship_value_invalid", 400, "Invalid relationship value."),
    IndexNotFound = ("index_not_found", 404, "Index missing."),
    IndexAlreadyExists = ("index_already_exists", 409, "Index key taken."),
    IndexInvalid = ("index_invalid", 400, "Index definition invalid."),
    TransactionNotFound = ("transaction_not_found", 404, "Transaction missing."),
    TransactionExpired = ("transaction_expired", 410, "Transaction past its TTL."),
    TransactionConflict = ("transaction_conflict", 409, "Commit conflict."),
    TransactionLimitExceeded = ("transaction_limit_exceeded", 400, "Too many operations."),
    TransactionNotReady = ("transaction_not_ready", 400, "Transaction not in pending state."),
    FunctionTemplateNotFound = ("function_template_not_found", 404, "Function Template with the requested ID could not be found."),
    HealthQueueSizeExceeded = ("health_queue_size_exceeded", 503, "Queue size threshold hit."),
    ProjectNotFound = ("project_not_found", 404, "Project with the requested ID could not be found. Please check the value of the X-Appwrite-Project header to ensure the correct project ID is being used."),
    ProjectKeyExpired = ("project_key_expired", 401, "The project key has expired. Please generate a new key using the Appwrite console."),
    KeyNotFound = ("key_not_found", 404, "Key with the requested ID could not be found."),
    KeyAlreadyExists = ("key_already_exists", 409, "Key with the same ID already exists."),
    ProjectProviderDisabled = ("project_provider_disabled", 412, "OAuth provider disabled."),
    ProjectProviderUnsupported = ("project_provider_unsupported", 400, "The chosen OAuth provider is unsupported. Please check the Create OAuth2 Session docs for the complete list of supported OAuth providers."),
    ProjectInvalidSuccessUrl = ("project_invalid_success_url", 400, "OAuth success URL not allowed."),
    ProjectInvalidFailureUrl = ("project_invalid_failure_url", 400, "OAuth failure URL not allowed."),
    ProviderNotFound = ("provider_not_found", 404, "Messaging provider missing."),
    TopicNotFound = ("topic_not_found", 404, "Topic missing."),
    SubscriberNotFound = ("subscriber_not_found", 404, "Subscriber missing."),
    SubscriberAlreadyExists = ("subscriber_already_exists", 409, "Target already subscribed."),
    MessageNotFound = ("message_not_found", 404, "Message missing."),
    ProviderAlreadyExists = ("provider_already_exists", 409, "Provider already exists."),
    ProviderIncorrectType = ("provider_incorrect_type", 400, "Provider with the requested ID is of the incorrect type."),
    ProviderMissingCredentials = ("provider_missing_credentials", 400, "Provider with the requested ID is missing credentials."),
    TopicAlreadyExists = ("topic_already_exists", 409, "Topic with the request ID already exists."),
    MessageAlreadyExists = ("message_already_exists", 409, "Message with the requested ID already exists."),
    MessageMissingTarget = ("message_missing_target", 400, "Message with the requested ID has no recipients."),
    MessageAlreadySent = ("message_already_sent", 400, "Message with the requested ID has already been sent."),
    MessageAlreadyProcessing = ("message_already_processing", 400, "Message with the requested ID is already being processed."),
    MessageTargetNotEmail = ("message_target_not_email", 400, "Message with the target ID is not an email target."),
    MessageTargetNotSms = ("message_target_not_sms", 400, "Message with the target ID is not an SMS target."),
    MessageTargetNotPush = ("message_target_not_push", 400, "Message with the target ID is not a push target."),
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error on its way to the client: a type plus a message (and, rarely, headers such as
/// `X-RateLimit-*` on a 429).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppwriteError {
    pub kind: ErrorType,
    pub message: String,
    pub headers: Vec<(&'static str, String)>,
}

impl AppwriteError {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// `400 general_argument_invalid` with Appwrite's ``Invalid `param` param: …`` wording.
    pub fn invalid_param(param: &str, description: &str) -> Self {
        Self::new(ErrorType::GeneralArgumentInvalid, format!("Invalid `{param}` param: {description}"))
    }

    /// `400 general_argument_invalid` for a missing required parameter.
    pub fn missing_param(param: &str) -> Self {
        Self::new(ErrorType::GeneralArgumentInvalid, format!("Param \"{param}\" is not optional."))
    }

    /// A failed write as the API answers it: a guard that did not hold (`expect_changes`)
    /// means the resource went away meanwhile, answered by `gone`; anything else is internal.
    pub fn from_store(error: crate::ports::StoreError, gone: impl FnOnce() -> AppwriteError) -> Self {
        match error {
            crate::ports::StoreError::GuardFailed { .. } => gone(),
            other => Self::internal(other),
        }
    }

    /// `500 general_unknown`; the detail goes to the log, never to the client.
    pub fn internal(detail: impl fmt::Display) -> Self {
        let detail = detail.to_string();
        // A store still busy with other writers after its timeout is load, not a bug: answer a
        // retriable 408 (`StoreError::Busy` renders with this prefix).
        if detail.starts_with("store busy:") {
            tracing::warn!(error = %detail, "store busy");
            return Self::new(ErrorType::DatabaseTimeout, "Database timed out. Try again.");
        }
        // A refused side effect of a serving that is thrown away (`ports::Offload`): no fault.
        if detail.starts_with("store deferred:") {
            return Self::new(ErrorType::GeneralUnknown, "Server Error");
        }
        tracing::error!(error = %detail, "internal error");
        Self::from(ErrorType::GeneralUnknown)
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The JSON body `{message, code, type, version}`.
    pub fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            message: &'a str,
            code: u16,
            #[serde(rename = "type")]
            kind: &'a str,
            version: &'a str,
        }
        serde_json::to_vec(&Body {
            message: &self.message,
            code: self.status(),
            kind: self.kind.as_str(),
            version: APPWRITE_VERSION,
        })
        .unwrap_or_default()
    }
}

impl From<ErrorType> for AppwriteError {
    fn from(kind: ErrorType) -> Self {
        Self::new(kind, kind.default_message())
    }
}

impl fmt::Display for AppwriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind, self.status(), self.message)
    }
}

impl std::error::Error for AppwriteError {}

#[cfg(test)]
mod tests {

    #[test]
    fn a_busy_store_is_a_retriable_timeout_not_a_server_error() {
        let busy = crate::ports::StoreError::from_sqlite_message("database is locked");
        assert!(matches!(busy, crate::ports::StoreError::Busy(_)));
        assert_eq!(AppwriteError::internal(busy).kind, ErrorType::DatabaseTimeout);
        assert_eq!(AppwriteError::internal("disk on fire").kind, ErrorType::GeneralUnknown);
    }

    use super::*;
    use std::collections::HashSet;

    #[test]
    fn type_strings_are_unique_and_snake_case() {
        let mut seen = HashSet::new();
        for kind in ErrorType::ALL {
            let s = kind.as_str();
            assert!(seen.insert(s), "duplicate type {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            assert!((400..=599).contains(&kind.status()), "{s} has status {}", kind.status());
        }
    }

    #[test]
    fn body_has_the_four_appwrite_fields() {
        let err = AppwriteError::missing_param("email");
        let v: serde_json::Value = serde_json::from_slice(&err.body()).unwrap();
        assert_eq!(v["message"], "Param \"email\" is not optional.");
        assert_eq!(v["code"], 400);
        assert_eq!(v["type"], "general_argument_invalid");
        assert_eq!(v["version"], APPWRITE_VERSION);
        assert_eq!(v.as_object().unwrap().len(), 4);
    }
}
