//! Diesel table definitions shared by both backends: only types SQLite and
//! PostgreSQL have in common (Text, Integer, BigInt, Bool, Timestamp).

diesel::table! {
    users (id) {
        id -> Text,
        display_name -> Text,
        user_principal_name -> Text,
        is_guest -> Bool,
        directory_role -> Text,
        is_admin -> Bool,
        account_enabled -> Nullable<Bool>,
        methods_mask -> Integer,
        is_registered -> Bool,
        is_enabled -> Bool,
        is_capable -> Bool,
        is_mfa_capable -> Bool,
        is_passwordless_capable -> Bool,
        search_text -> Text,
        updated_at -> Timestamp,
        status_key -> BigInt,
        search_rowid -> BigInt,
        directory_status -> Nullable<Integer>,
        directory_status_at -> Nullable<Timestamp>,
        is_mfa_registered -> Nullable<Bool>,
        default_mfa_method -> Nullable<Text>,
        is_system_preferred_enabled -> Nullable<Bool>,
        system_preferred_methods -> Nullable<Text>,
        user_preferred_method -> Nullable<Text>,
        registration_updated_at -> Nullable<Timestamp>,
        verdicts_stale -> Bool,
        other_methods -> Nullable<Text>,
    }
}

diesel::table! {
    directory_groups (id) {
        id -> Text,
        display_name -> Text,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    user_methods (user_id, method) {
        user_id -> Text,
        method -> Integer,
        registered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sspr_policy (id) {
        id -> Integer,
        scope -> Text,
        group_id -> Nullable<Text>,
        methods_required -> Integer,
        allowed_methods -> Integer,
        updated_at -> Timestamp,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    activities (id) {
        id -> Text,
        user_id -> Nullable<Text>,
        user_principal_name -> Text,
        user_display_name -> Text,
        user_role -> Text,
        feature -> Integer,
        methods_mask -> Integer,
        result -> Integer,
        details -> Nullable<Integer>,
        occurred_at -> Timestamp,
        import_id -> BigInt,
    }
}

diesel::table! {
    method_events (id) {
        id -> Text,
        activity_id -> Nullable<Text>,
        user_id -> Text,
        feature -> Integer,
        method -> Integer,
        success -> Bool,
        failure_reason -> Nullable<Text>,
        occurred_at -> Timestamp,
        import_id -> BigInt,
        user_principal_name -> Nullable<Text>,
        user_display_name -> Nullable<Text>,
        method_name -> Nullable<Text>,
    }
}

diesel::table! {
    event_counts_daily (day, feature, method, success) {
        day -> Timestamp,
        feature -> Integer,
        method -> Integer,
        success -> Bool,
        event_count -> BigInt,
    }
}

diesel::table! {
    event_counts (bucket, feature, method, success) {
        bucket -> Timestamp,
        feature -> Integer,
        method -> Integer,
        success -> Bool,
        event_count -> BigInt,
    }
}

diesel::table! {
    activity_counts (bucket, feature, result, methods_mask) {
        bucket -> Timestamp,
        feature -> Integer,
        result -> Integer,
        methods_mask -> Integer,
        activity_count -> BigInt,
    }
}

diesel::table! {
    activity_counts_daily (day, feature, result, methods_mask) {
        day -> Timestamp,
        feature -> Integer,
        result -> Integer,
        methods_mask -> Integer,
        activity_count -> BigInt,
    }
}

diesel::table! {
    user_status_counts (status_key) {
        status_key -> BigInt,
        user_count -> BigInt,
    }
}

diesel::table! {
    portal_state (id) {
        id -> Integer,
        data_changed_at -> Timestamp,
        retention_days -> Integer,
        data_version -> BigInt,
        verdict_source -> Nullable<Text>,
        sync_every_minutes -> Nullable<BigInt>,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        must_change_password -> Bool,
        created_at -> Timestamp,
        last_sign_in_at -> Nullable<Timestamp>,
        password_changed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        account_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        client_address -> Text,
        flash -> Nullable<Text>,
    }
}

diesel::table! {
    sign_in_throttle (subject) {
        subject -> Text,
        failures -> Integer,
        first_failure_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        key_hash -> Text,
        key_prefix -> Text,
        can_read -> Bool,
        can_ingest -> Bool,
        created_at -> Timestamp,
        created_by -> Text,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        target -> Text,
        details -> Text,
    }
}

diesel::table! {
    imports (id) {
        id -> BigInt,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        source -> Text,
        actor -> Text,
        kind -> Text,
        files -> Text,
        inserted -> BigInt,
        updated -> BigInt,
        skipped -> BigInt,
        summary -> Text,
    }
}

diesel::table! {
    sync_runs (id) {
        id -> BigInt,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        trigger -> Text,
        outcome -> Nullable<Text>,
        message -> Text,
    }
}

diesel::table! {
    sync_resources (run_id, resource) {
        run_id -> BigInt,
        resource -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        pages -> BigInt,
        records -> BigInt,
        inserted -> BigInt,
        updated -> BigInt,
        warnings -> BigInt,
        requests -> BigInt,
        retries -> BigInt,
        import_id -> Nullable<BigInt>,
        window_start -> Nullable<Timestamp>,
        requested_at -> Nullable<Timestamp>,
        message -> Text,
    }
}

diesel::joinable!(sync_resources -> sync_runs (run_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(group_members -> directory_groups (group_id));
diesel::joinable!(user_methods -> users (user_id));
diesel::joinable!(sessions -> accounts (account_id));

diesel::table! {
    status_history (day, status) {
        day -> Timestamp,
        status -> Integer,
        user_change -> BigInt,
    }
}

diesel::table! {
    status_changes (id) {
        id -> BigInt,
        user_id -> Text,
        changed_at -> Timestamp,
        status_before -> Nullable<Integer>,
        status_after -> Integer,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    directory_groups,
    group_members,
    user_methods,
    sspr_policy,
    activities,
    method_events,
    event_counts,
    event_counts_daily,
    activity_counts,
    activity_counts_daily,
    user_status_counts,
    status_history,
    status_changes,
    portal_state,
    accounts,
    sessions,
    sign_in_throttle,
    api_keys,
    audit_log,
    imports,
    sync_runs,
    sync_resources,
);

diesel::table! {
    outbox (id) {
        id -> BigInt,
        idempotency_key -> Text,
        origin -> Text,
        channel -> Text,
        destination -> Text,
        subject -> Text,
        body -> Text,
        attachment_name -> Nullable<Text>,
        attachment -> Nullable<Binary>,
        secret -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        leased_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sign_in_days (day) {
        day -> Timestamp,
        total_sign_ins -> BigInt,
        single_factor -> BigInt,
        multi_factor -> BigInt,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    sign_in_method_days (day, method, method_name) {
        day -> Timestamp,
        method -> Text,
        method_name -> Text,
        sign_ins -> BigInt,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> BigInt,
        kind -> Text,
        name -> Text,
        owner_id -> Text,
        view_path -> Text,
        view_query -> Text,
        channel -> Text,
        destination -> Text,
        secret -> Text,
        webhook_rows -> BigInt,
        frequency -> Text,
        weekday -> Nullable<Text>,
        day_of_month -> Nullable<BigInt>,
        hour -> BigInt,
        time_zone -> Text,
        condition -> Nullable<Text>,
        threshold -> Nullable<BigInt>,
        check_minutes -> Nullable<BigInt>,
        repeat_minutes -> Nullable<BigInt>,
        state -> Text,
        paused_reason -> Nullable<Text>,
        next_run_at -> Timestamp,
        last_run_at -> Nullable<Timestamp>,
        last_result -> Nullable<Text>,
        last_value -> Nullable<BigInt>,
        checked_version -> Nullable<BigInt>,
        firing -> Bool,
        firing_since -> Nullable<Timestamp>,
        notified_at -> Nullable<Timestamp>,
        revision -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(subscriptions -> accounts (owner_id));
diesel::allow_tables_to_appear_in_same_query!(subscriptions, accounts);
