"""AWS's own notification channel and the channels' secrets.

``SnsNotifier`` publishes each notice to the deployment's SNS topic, which AWS Chatbot (Slack,
Teams) and email subscribe to: the subject is the title, the message the notice as JSON, with its
kind and severity as attributes a subscription can filter on. ``secret_channels`` builds the webhook
and PagerDuty channels from Secrets Manager secrets, read when the function starts, so the URL and
the routing key are never in the template, the function's configuration or a log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ...errors import AccessDenied, TransientError
from ...ports.notify import Notice
from .config import AwsSettings
from .session import client, error_code

if TYPE_CHECKING:
    from ...config import NotificationSettings
    from ...ports.notify import Notifier


class SnsNotifier:
    name = "sns"

    def __init__(self, aws: AwsSettings) -> None:
        self.topic = aws.notification_topic_arn
        self.sns = client("sns", aws)

    def send(self, notice: Notice) -> None:
        try:
            self.sns.publish(TopicArn=self.topic, Subject=notice.title[:100].replace("\n", " "),
                             Message=notice.model_dump_json(),
                             MessageAttributes={"kind": {"DataType": "String", "StringValue": notice.kind},
                                                "severity": {"DataType": "String", "StringValue": notice.severity}})
        except Exception as exc:
            code = error_code(exc)
            if code in ("AuthorizationError", "AccessDenied", "AccessDeniedException"):
                raise AccessDenied("this function may not publish to the notification topic: it needs sns:Publish "
                                   "(infra/aws/template.yaml, NotifyRole)") from None
            if code in ("Throttled", "ThrottlingException", "InternalError", "KMSThrottlingException") or not code:
                raise TransientError(f"SNS did not take the notice ({code or type(exc).__name__}); retried") from None
            raise


def _secret(aws: AwsSettings, arn: str) -> str:
    try:
        return str(client("secretsmanager", aws).get_secret_value(SecretId=arn)["SecretString"]).strip()
    except Exception as exc:
        if error_code(exc) in ("AccessDeniedException", "AccessDenied"):
            raise AccessDenied("this function may not read a notification secret: it needs "
                               "secretsmanager:GetSecretValue on it (NotifyRole)") from None
        raise


class _OnFirstSend:
    """A channel whose secret is read when it first sends: only the notify function reads it (and
    may), not every function that builds the adapters."""

    def __init__(self, name: str, make: Callable[[], Any]) -> None:
        self.name, self._make = name, make
        self._channel: Any = None

    def send(self, notice: Notice) -> None:
        if self._channel is None:
            self._channel = self._make()
        self._channel.send(notice)


def secret_channels(aws: AwsSettings, n: "NotificationSettings") -> dict[str, "Notifier"]:
    out: dict[str, "Notifier"] = {}
    if aws.webhook_secret_arn:
        from ...notifiers.webhook import WebhookNotifier

        out["webhook"] = _OnFirstSend("webhook", lambda: WebhookNotifier(_secret(aws, aws.webhook_secret_arn),
                                                                         timeout=n.timeout_seconds))
    if aws.pagerduty_secret_arn:
        from ...notifiers.pagerduty import PagerDutyNotifier

        out["pagerduty"] = _OnFirstSend("pagerduty", lambda: PagerDutyNotifier(
            _secret(aws, aws.pagerduty_secret_arn), url=n.pagerduty_url, timeout=n.timeout_seconds))
    if aws.notification_topic_arn:
        out["sns"] = SnsNotifier(aws)
    return out


__all__ = ["SnsNotifier", "secret_channels"]
