DROP TABLE status_changes;
DROP TABLE status_history;
